"""`WS /v1/sandboxes/{id}/terminal`: an interactive bash in the sandbox, relayed through Bay.

Authenticated like every other call (Authorization header, or `?token=` where a client
cannot set headers). Errors close the socket with 4000 + the HTTP status and a reason.
"""

import asyncio
import contextlib

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from websockets.exceptions import ConnectionClosed

from bay.api.deps import Db, Sandboxes, Terminals, get_principal
from bay.errors import BayError
from bay.services.terminals import terminal_size
from bay.ship_client import ClientConnection

router = APIRouter(tags=["terminal"])


@router.websocket("/v1/sandboxes/{sandbox_id}/terminal")
async def terminal(
    websocket: WebSocket,
    sandbox_id: str,
    db: Db,
    sandboxes: Sandboxes,
    terminals: Terminals,
    cols: str = "80",
    rows: str = "24",
    token: str | None = None,
) -> None:
    # The sizes are parsed here, after accept: FastAPI refuses bad query parameters of a
    # WebSocket before the handshake, which the client sees as a bare 403 with no reason.
    await websocket.accept()
    authorization = websocket.headers.get("authorization") or (token and f"Bearer {token}")
    try:
        caller = await get_principal(websocket, authorization, websocket.headers.get("x-owner"))
        size = terminal_size(cols, rows)
        sandbox = await sandboxes.usable(caller.owner, sandbox_id, "shell")
        await db.commit()
        ship = await terminals.open(sandbox, *size)
    except BayError as exc:
        await websocket.close(code=4000 + exc.status, reason=exc.message[:120])
        return
    await _relay(websocket, ship)


async def _relay(client: WebSocket, ship: ClientConnection) -> None:
    """Pump both ways until either side closes, then close the other."""
    upstream = asyncio.create_task(_client_to_ship(client, ship))
    downstream = asyncio.create_task(_ship_to_client(ship, client))
    await asyncio.wait({upstream, downstream}, return_when=asyncio.FIRST_COMPLETED)
    for task in (upstream, downstream):
        task.cancel()
    await ship.close()
    with contextlib.suppress(RuntimeError):
        await client.close()


async def _client_to_ship(client: WebSocket, ship: ClientConnection) -> None:
    with contextlib.suppress(WebSocketDisconnect, ConnectionClosed):
        while True:
            message = await client.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                await ship.send(message["text"])
            elif message.get("bytes") is not None:
                await ship.send(message["bytes"])


async def _ship_to_client(ship: ClientConnection, client: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect, ConnectionClosed):
        async for frame in ship:
            if isinstance(frame, bytes):
                await client.send_bytes(frame)
            else:
                await client.send_text(frame)
