"""Relays to servers the sandbox runs on 127.0.0.1: HTTP (streamed both ways), WebSocket
messages, and raw TCP tunnels, counted as activity while open.

Ship runs in the sandbox's network namespace on every driver, so its loopback is the
user's: Bay reaches a sandbox port only through Ship's own authenticated channel.
"""

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Iterator, Sequence

import h11
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from ship.errors import InvalidPortError, PortClosedError

READ_BYTES = 256 * 1024
WS_FRAME_BYTES = 16 * 1024 * 1024
CONNECT_TIMEOUT_S = 10.0
# Hop-by-hop headers (RFC 9110 §7.6.1) and Bay's bearer token never reach the user's server.
DROPPED = frozenset(
    {
        b"authorization",
        b"connection",
        b"expect",
        b"host",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Ship marks its own error answers with this header; a user's server may not forge one.
SHIP_ERROR_HEADER = b"x-ship-error"
DROPPED_IN_ANSWERS = DROPPED | {SHIP_ERROR_HEADER}
Headers = list[tuple[bytes, bytes]]


class Ports:
    """Opens relays to sandbox ports and counts the open ones (idle reclaim reads `count`)."""

    def __init__(self, own_port: int | None) -> None:
        self._own_port = own_port
        self.count = 0

    def check(self, port: int) -> None:
        if not 1 <= port <= 65535:
            raise InvalidPortError(f"port must be 1 to 65535, not {port}", {"port": port})
        if port == self._own_port:
            raise InvalidPortError(f"port {port} is Ship's own", {"port": port})

    @contextlib.contextmanager
    def counted(self) -> Iterator[None]:
        self.count += 1
        try:
            yield
        finally:
            self.count -= 1

    async def open_tcp(self, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self.check(port)
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                return await asyncio.open_connection("127.0.0.1", port, limit=READ_BYTES)
        except (OSError, TimeoutError) as exc:
            raise _closed(port, exc) from exc

    async def http(self, request: Request, port: int, target: str) -> "RelayedResponse":
        """Send the request (its body streamed) and return the answer with its body unread."""
        reader, writer = await self.open_tcp(port)
        try:
            connection = h11.Connection(h11.CLIENT)
            head = h11.Request(
                method=request.method, target=target, headers=_upstream_headers(request, port)
            )
            await _send_request(connection, writer, head, request, port)
            answer = await _response_head(connection, reader, port)
        except BaseException:
            writer.close()
            raise
        return RelayedResponse(answer, _body(connection, reader, writer), self)

    async def websocket(self, port: int, target: str, client: WebSocket) -> ClientConnection:
        """Open the user's WebSocket with the client's subprotocols; refused: PortClosedError."""
        self.check(port)
        protocols = client.scope.get("subprotocols") or None
        try:
            return await connect(
                f"ws://127.0.0.1:{port}{target}",
                subprotocols=protocols,
                max_size=WS_FRAME_BYTES,
                open_timeout=CONNECT_TIMEOUT_S,
                compression=None,
            )
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise _closed(port, exc) from exc


class RelayedResponse(Response):
    """The user's server's status and headers, its body streamed as it arrives."""

    def __init__(self, head: h11.Response, body: AsyncGenerator[bytes, None], ports: Ports) -> None:
        super().__init__(status_code=head.status_code)
        self.raw_headers = [
            (bytes(name), bytes(value))
            for name, value in head.headers
            if name not in DROPPED_IN_ANSWERS
        ]
        self._body = body
        self._ports = ports

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with self._ports.counted():
            try:
                start = {"type": "http.response.start", "status": self.status_code}
                await send({**start, "headers": self.raw_headers})
                async for chunk in self._body:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
            finally:
                await self._body.aclose()


def _closed(port: int, exc: BaseException) -> PortClosedError:
    message = f"nothing listens on port {port} in the sandbox ({exc!r})"
    return PortClosedError(message, {"port": port})


def _upstream_headers(request: Request, port: int) -> Headers:
    headers = [(k, v) for k, v in request.scope["headers"] if k not in DROPPED]
    headers.append((b"host", f"127.0.0.1:{port}".encode()))
    has_length = any(name == b"content-length" for name, _ in headers)
    if not has_length and request.headers.get("transfer-encoding"):
        headers.append((b"transfer-encoding", b"chunked"))
    headers.append((b"connection", b"close"))
    return headers


async def _send_request(
    connection: h11.Connection,
    writer: asyncio.StreamWriter,
    head: h11.Request,
    request: Request,
    port: int,
) -> None:
    try:
        writer.write(connection.send(head) or b"")
        async for chunk in request.stream():
            if chunk:
                writer.write(connection.send(h11.Data(data=chunk)) or b"")
                await writer.drain()
        writer.write(connection.send(h11.EndOfMessage()) or b"")
    except OSError as exc:
        message = f"the server on port {port} closed the connection while receiving the request"
        raise PortClosedError(message, {"port": port}) from exc


async def _next_event(connection: h11.Connection, reader: asyncio.StreamReader) -> object:
    while True:
        event = connection.next_event()
        if event is not h11.NEED_DATA:
            return event
        connection.receive_data(await reader.read(READ_BYTES))


async def _response_head(
    connection: h11.Connection, reader: asyncio.StreamReader, port: int
) -> h11.Response:
    try:
        while True:
            event = await _next_event(connection, reader)
            if isinstance(event, h11.Response):
                return event
            if not isinstance(event, h11.InformationalResponse):
                raise PortClosedError(f"the server on port {port} closed without answering")
    except (h11.RemoteProtocolError, OSError) as exc:
        raise PortClosedError(f"the server on port {port} did not answer HTTP: {exc}") from exc


async def _body(
    connection: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> AsyncGenerator[bytes, None]:
    try:
        while isinstance(event := await _next_event(connection, reader), h11.Data):
            yield bytes(event.data)
    except (h11.RemoteProtocolError, OSError):
        return  # a cut body: the client sees its connection end early, as from the server
    finally:
        writer.close()


async def relay_messages(client: WebSocket, upstream: ClientConnection) -> None:
    """Pump WebSocket messages both ways until either side closes, then close the other."""
    tasks = [
        asyncio.create_task(_to_upstream(client, upstream)),
        asyncio.create_task(_to_client(upstream, client)),
    ]
    await _first_then_cancel(tasks)
    await upstream.close()
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await client.close(sendable(upstream.close_code))


async def relay_bytes(
    client: WebSocket, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """A raw TCP tunnel: binary messages in are bytes written, bytes read go out as messages;
    an empty message in half-closes the connection, its end closes the WebSocket."""
    tasks = [
        asyncio.create_task(_socket_to_client(reader, client)),
        asyncio.create_task(_client_to_socket(client, writer)),
    ]
    await _first_then_cancel(tasks)
    writer.close()
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await client.close()


async def _first_then_cancel(tasks: Sequence["asyncio.Task[None]"]) -> None:
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _to_upstream(client: WebSocket, upstream: ClientConnection) -> None:
    with contextlib.suppress(WebSocketDisconnect, ConnectionClosed):
        while (message := await client.receive())["type"] != "websocket.disconnect":
            if message.get("text") is not None:
                await upstream.send(message["text"])
            elif message.get("bytes") is not None:
                await upstream.send(message["bytes"])


async def _to_client(upstream: ClientConnection, client: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect, ConnectionClosed, RuntimeError):
        async for frame in upstream:
            if isinstance(frame, bytes):
                await client.send_bytes(frame)
            else:
                await client.send_text(frame)


async def _socket_to_client(reader: asyncio.StreamReader, client: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError):
        while chunk := await reader.read(READ_BYTES):
            await client.send_bytes(chunk)


async def _client_to_socket(client: WebSocket, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(WebSocketDisconnect, OSError):
        while (message := await client.receive())["type"] != "websocket.disconnect":
            data = message.get("bytes")
            if data is None:
                data = (message.get("text") or "").encode()
            if not data:  # an empty message: the client is done sending (a half close)
                if writer.can_write_eof():
                    writer.write_eof()
                continue
            writer.write(data)
            await writer.drain()


def sendable(code: int | None) -> int:
    """The peer's close code if it may be sent on (1005, 1006 and 1015 only describe)."""
    if code is None or code in (1005, 1006, 1015) or not 1000 <= code < 5000:
        return 1000
    return code
