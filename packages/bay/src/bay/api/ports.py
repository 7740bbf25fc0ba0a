"""Sandbox ports: `…/ports/{port}/{path}` relays HTTP (any method) and WebSocket to a server
in the sandbox; `POST …/ports/{port}/url` signs a link that needs no API key; `WS
…/tunnels/{port}` is a raw TCP stream for `shipyard port-forward`.

A caller is the API key's owner, or the owner a valid link speaks for. Errors answer the one
JSON body; on a WebSocket, as the handshake's HTTP answer.
"""

from typing import Annotated

import httpx
from fastapi import APIRouter, Body, Request, WebSocket
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from starlette.background import BackgroundTask
from starlette.requests import HTTPConnection

from bay.api import websockets
from bay.api.deps import Caller, Db, Ports, PublicUrl, get_principal
from bay.api.handlers import bay_error_response
from bay.errors import BayError
from bay.services import port_headers
from bay.services.ports import PortService, Relay, port_number
from shipyard_protocol.api import PortUrl, PortUrlCreate

router = APIRouter(prefix="/v1/sandboxes/{sandbox_id}", tags=["ports"])
SMALL_ANSWER = 64 * 1024
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@router.post("/ports/{port}/url")
async def port_url(
    sandbox_id: str,
    port: str,
    caller: Caller,
    ports: Ports,
    base_url: PublicUrl,
    body: Annotated[PortUrlCreate | None, Body()] = None,
) -> PortUrl:
    request = body or PortUrlCreate()
    return await ports.link(caller.owner, sandbox_id, port_number(port), request, base_url)


@router.api_route("/ports/{port}", methods=METHODS, include_in_schema=False)
async def port_root(request: Request, sandbox_id: str, port: str) -> RedirectResponse:
    """A browser resolves the server's relative links against the port's path with a slash."""
    query = request.url.query
    return RedirectResponse(request.url.path + "/" + (f"?{query}" if query else ""), 307)


@router.api_route("/ports/{port}/{path:path}", methods=METHODS, include_in_schema=False)
async def proxy(request: Request, sandbox_id: str, port: str, db: Db, ports: Ports) -> Response:
    number = port_number(port)
    relay, token = await _open(request, sandbox_id, number, ports)
    await db.commit()  # an answer may stream for long; hold no database connection meanwhile
    prefix = _prefix(sandbox_id, number)
    headers = port_headers.forwarded(
        request.headers.items(), prefix, request.url.scheme, _client(request)
    )
    has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
    answer = await ports.request(
        relay,
        request.method,
        _target(request, prefix),
        headers,
        request.stream() if has_body else None,
    )
    response = await _response(answer)
    response.raw_headers = port_headers.relayed(answer.headers.multi_items())
    if token is not None and _token_in_query(request):
        cookie = ports.cookie(token, sandbox_id, number, request.url.scheme == "https")
        response.raw_headers.append((b"set-cookie", cookie.encode("latin-1")))
    return response


@router.websocket("/ports/{port}/{path:path}")
async def proxy_websocket(
    websocket: WebSocket, sandbox_id: str, port: str, db: Db, ports: Ports
) -> None:
    try:
        number = port_number(port)
        relay, _ = await _open(websocket, sandbox_id, number, ports)
        await db.commit()
        target = _target(websocket, _prefix(sandbox_id, number))
        protocols = list(websocket.scope.get("subprotocols") or [])
        upstream = await ports.websocket(relay, target, protocols)
    except BayError as exc:
        await websocket.send_denial_response(_refusal(websocket, exc))
        return
    await websocket.accept(subprotocol=upstream.subprotocol)
    await websockets.relay(websocket, upstream)


@router.websocket("/tunnels/{port}")
async def tunnel(websocket: WebSocket, sandbox_id: str, port: str, db: Db, ports: Ports) -> None:
    try:
        relay, _ = await _open(websocket, sandbox_id, port_number(port), ports)
        await db.commit()
        upstream = await ports.tunnel(relay)
    except BayError as exc:
        await websocket.send_denial_response(_refusal(websocket, exc))
        return
    await websocket.accept()
    await websockets.relay(websocket, upstream)


async def _open(
    connection: HTTPConnection, sandbox_id: str, port: int, ports: PortService
) -> tuple[Relay, str | None]:
    """The way to the port, for the key's owner or the link's; and the link's token if any."""
    token = port_headers.port_token(connection.url.query, connection.headers.get("cookie"))
    if token is not None:
        owner = ports.grant(token, sandbox_id, port).owner
    else:
        headers = connection.headers
        caller = await get_principal(
            connection, headers.get("authorization"), headers.get("x-owner")
        )
        owner = caller.owner
    return await ports.open(owner, sandbox_id, port), token


async def _response(answer: httpx.Response) -> Response:
    """A small answer is read whole: streaming it costs a task and a send per piece, more
    than its bytes do; anything larger, or of unknown size, streams."""
    if int(answer.headers.get("content-length") or SMALL_ANSWER + 1) <= SMALL_ANSWER:
        try:  # raw: a compressed body must reach the client as the server encoded it
            body = b"".join([chunk async for chunk in answer.aiter_raw()])
        finally:
            await answer.aclose()
        return Response(body, answer.status_code)
    return StreamingResponse(
        answer.aiter_raw(), answer.status_code, background=BackgroundTask(answer.aclose)
    )


def _prefix(sandbox_id: str, port: int) -> str:
    return f"/v1/sandboxes/{sandbox_id}/ports/{port}"


def _target(connection: HTTPConnection, prefix: str) -> str:
    raw: bytes = connection.scope.get("raw_path") or connection.url.path.encode()
    return port_headers.target(raw.decode("latin-1"), prefix, connection.url.query)


def _token_in_query(request: Request) -> bool:
    return port_headers.port_token(request.url.query, None) is not None


def _client(connection: HTTPConnection) -> str | None:
    return connection.client.host if connection.client else None


def _refusal(websocket: WebSocket, exc: BayError) -> Response:
    request_id = getattr(websocket.state, "request_id", None)
    return bay_error_response(exc, request_id)
