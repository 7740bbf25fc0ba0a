"""The lean HTTP/1.1 client Bay uses for Ship's one-answer calls, against scripted servers."""

import asyncio
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bay.ship_wire import AnswerTooLarge, ShipWire, WireError

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def server(tmp_path: Path, handler: Handler) -> AsyncIterator[tuple[str, list[int]]]:
    """A Unix-socket server running `handler` per connection; yields (endpoint, connections)."""
    path = tmp_path / "ship.sock"
    connections: list[int] = []
    handlers: set[asyncio.Task[None]] = set()

    async def counted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        handlers.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            await handler(reader, writer)
        finally:
            writer.close()
            await writer.wait_closed()

    listening = await asyncio.start_unix_server(counted, path)
    try:
        yield f"unix:{path}", connections
    finally:
        listening.close()
        await listening.wait_closed()
        if handlers:
            await asyncio.wait(handlers, timeout=2)


async def read_request(reader: asyncio.StreamReader) -> tuple[str, bytes]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode()
    length = 0
    for line in head.split("\r\n")[1:]:
        if line.lower().startswith("content-length:"):
            length = int(line.split(":")[1])
    return head, await reader.readexactly(length)


def answer(body: bytes, extra: str = "") -> bytes:
    return f"HTTP/1.1 200 OK\r\ncontent-length: {len(body)}\r\n{extra}\r\n".encode() + body


async def echo_forever(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while not reader.at_eof():
        try:
            head, body = await read_request(reader)
        except asyncio.IncompleteReadError:
            return
        writer.write(answer(head.split("\r\n")[0].encode() + b"|" + body))
        await writer.drain()


async def test_sends_the_request_and_keeps_the_connection(tmp_path: Path) -> None:
    async with server(tmp_path, echo_forever) as (endpoint, connections):
        wire = ShipWire(endpoint, {"authorization": "Bearer t"})
        first = await wire.call("POST", "/python/exec", b'{"a":1}', timeout=5, cap=1024)
        second = await wire.call("GET", "/health", None, timeout=5, cap=1024)
        wire.close()

    assert first.status == 200
    assert first.body == b'POST /python/exec HTTP/1.1|{"a":1}'
    assert second.body == b"GET /health HTTP/1.1|"
    assert len(connections) == 1


async def test_a_connection_the_server_closed_is_not_reused(tmp_path: Path) -> None:
    async def one_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(b"ok"))
        await writer.drain()

    async with server(tmp_path, one_then_close) as (endpoint, connections):
        wire = ShipWire(endpoint)
        await wire.call("GET", "/health", None, timeout=5, cap=1024)
        await asyncio.sleep(0.05)  # the close reaches the client's idle connection
        again = await wire.call("GET", "/health", None, timeout=5, cap=1024)
        wire.close()

    assert again.body == b"ok"
    assert len(connections) == 2


async def test_chunked_answers_are_joined(tmp_path: Path) -> None:
    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\n\r\n")
        writer.write(b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n")
        await writer.drain()

    async with server(tmp_path, chunked) as (endpoint, _):
        wire = ShipWire(endpoint)
        got = await wire.call("GET", "/x", None, timeout=5, cap=1024)
        wire.close()

    assert (got.status, got.body) == (404, b"abcde")


@pytest.mark.parametrize("length_header", [True, False])
async def test_an_answer_over_the_cap_is_refused(tmp_path: Path, length_header: bool) -> None:
    async def big(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        body = b"x" * 5000
        head = f"content-length: {len(body)}\r\n" if length_header else "connection: close\r\n"
        writer.write(f"HTTP/1.1 200 OK\r\n{head}\r\n".encode() + body)
        await writer.drain()

    async with server(tmp_path, big) as (endpoint, _):
        with pytest.raises(AnswerTooLarge):
            await ShipWire(endpoint).call("GET", "/x", None, timeout=5, cap=4096)


BROKEN_ANSWERS = {
    "not http": b"SSH-2.0-OpenSSH\r\n\r\n",
    "cut short": b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort",
    "negative chunk": b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n-5\r\nabc\r\n",
    "chunk longer than said": b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabc\r\n",
}


@pytest.mark.parametrize("answer", BROKEN_ANSWERS.values(), ids=list(BROKEN_ANSWERS))
async def test_a_broken_answer_is_a_wire_error(tmp_path: Path, answer: bytes) -> None:
    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer)

    async with server(tmp_path, reply) as (endpoint, _):
        with pytest.raises(WireError):
            await ShipWire(endpoint).call("GET", "/x", None, timeout=5, cap=1024)


async def test_no_server_is_a_wire_error(tmp_path: Path) -> None:
    with pytest.raises(WireError, match="cannot connect"):
        await ShipWire(f"unix:{tmp_path / 'none.sock'}").call("GET", "/", None, 5, 1024)


async def test_a_silent_server_times_out_and_a_bad_path_is_refused(tmp_path: Path) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answers; returns when the client hangs up

    async with server(tmp_path, silent) as (endpoint, _):
        wire = ShipWire(endpoint)
        with pytest.raises(TimeoutError):
            await wire.call("GET", "/x", None, timeout=0.2, cap=1024)
        with pytest.raises(WireError, match="not a request path"):
            await wire.call("GET", "/x HTTP/1.1\r\nevil: 1", None, timeout=1, cap=1024)


async def test_a_reset_connection_is_a_wire_error() -> None:
    """TCP (loopback) answers a reset with RST, which asyncio raises as ConnectionResetError."""

    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    listening = await asyncio.start_server(reset, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        with pytest.raises(WireError, match="failed on the way"):
            await ShipWire(f"http://127.0.0.1:{port}").call("GET", "/x", None, 5, 1024)
    finally:
        listening.close()
        await listening.wait_closed()
