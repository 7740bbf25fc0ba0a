"""Relaying a client's WebSocket to one Bay opened to Ship, message for message."""

import asyncio
import contextlib

from fastapi import WebSocket, WebSocketDisconnect
from websockets.exceptions import ConnectionClosed

from bay.ship_client import ClientConnection


async def relay(client: WebSocket, ship: ClientConnection) -> None:
    """Pump both ways until either side closes, then close the other."""
    upstream = asyncio.create_task(_client_to_ship(client, ship))
    downstream = asyncio.create_task(_ship_to_client(ship, client))
    await asyncio.wait({upstream, downstream}, return_when=asyncio.FIRST_COMPLETED)
    for task in (upstream, downstream):
        task.cancel()
    await ship.close()
    # A client that left first cannot be sent a close: Starlette raises WebSocketDisconnect
    # (RuntimeError once the close was already sent). Either way it is a normal end.
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await client.close(sendable(ship.close_code))


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
    with contextlib.suppress(WebSocketDisconnect, ConnectionClosed, RuntimeError):
        async for frame in ship:
            if isinstance(frame, bytes):
                await client.send_bytes(frame)
            else:
                await client.send_text(frame)


def sendable(code: int | None) -> int:
    """The peer's close code if it may be sent on (1005, 1006 and 1015 only describe)."""
    if code is None or code in (1005, 1006, 1015) or not 1000 <= code < 5000:
        return 1000
    return code
