"""Sandbox ports: `/ports/{port}/{path}` relays HTTP and WebSocket to 127.0.0.1:{port};
`WS /tunnels/{port}` is a raw TCP tunnel."""

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import JSONResponse
from starlette.types import Scope

from ship.api.deps import PortsDep
from ship.errors import ShipError
from ship.ports import SHIP_ERROR_HEADER, RelayedResponse, relay_bytes, relay_messages

router = APIRouter()
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@router.api_route("/ports/{port}/{path:path}", methods=METHODS)
async def relay_http(request: Request, port: int, path: str, ports: PortsDep) -> RelayedResponse:
    return await ports.http(request, port, _target(request.scope, port))


@router.websocket("/ports/{port}/{path:path}")
async def relay_websocket(websocket: WebSocket, port: int, path: str, ports: PortsDep) -> None:
    try:
        upstream = await ports.websocket(port, _target(websocket.scope, port), websocket)
    except ShipError as exc:
        await websocket.send_denial_response(_refusal(exc))
        return
    with ports.counted():
        await websocket.accept(subprotocol=upstream.subprotocol)
        await relay_messages(websocket, upstream)


@router.websocket("/tunnels/{port}")
async def tunnel(websocket: WebSocket, port: int, ports: PortsDep) -> None:
    try:
        reader, writer = await ports.open_tcp(port)
    except ShipError as exc:
        await websocket.send_denial_response(_refusal(exc))
        return
    with ports.counted():
        await websocket.accept()
        await relay_bytes(websocket, reader, writer)


def _target(scope: Scope, port: int) -> str:
    """The request target on the user's server: the raw path after `/ports/{port}`, and query."""
    raw: bytes = scope.get("raw_path") or str(scope["path"]).encode()
    path = raw.decode("latin-1").removeprefix(f"/ports/{port}") or "/"
    query: bytes = scope.get("query_string") or b""
    return path + ("?" + query.decode("latin-1") if query else "")


def _refusal(exc: ShipError) -> JSONResponse:
    headers = {SHIP_ERROR_HEADER.decode(): exc.code.value}
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)
