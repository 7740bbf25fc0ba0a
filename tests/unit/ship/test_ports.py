"""Ship's port relays against real servers on loopback: HTTP, WebSocket and a raw tunnel."""

import asyncio
import hashlib
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.typing import Subprotocol

from tests.unit.ship.conftest import ServeShip

CHAT = Subprotocol("chat")


class _Handler(BaseHTTPRequestHandler):
    """GET answers a fixed body; POST answers the SHA-256 and size of what it read."""

    def do_GET(self) -> None:
        body = b"hello from the sandbox " + self.path.encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.send_header("x-upstream", "yes")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        digest, left = hashlib.sha256(), length
        while left:
            chunk = self.rfile.read(min(left, 65536))
            digest.update(chunk)
            left -= len(chunk)
        body = f"{digest.hexdigest()} {length} {self.headers.get('authorization')}".encode()
        self.send_response(201)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
async def ship(serve_ship: ServeShip) -> AsyncIterator[str]:
    async with serve_ship() as url:
        yield url


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_get_is_relayed_with_path_query_and_headers(ship: str, upstream: int) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"{ship}/ports/{upstream}/a/b%2Fc?x=1")
    assert answer.status_code == 200
    assert answer.text == "hello from the sandbox /a/b%2Fc?x=1"
    assert answer.headers["x-upstream"] == "yes"
    assert "x-ship-error" not in answer.headers


async def test_post_body_streams_through_without_the_bearer_token(ship: str, upstream: int) -> None:
    payload = bytes(range(256)) * 40_000

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 1 << 20):
            yield payload[start : start + (1 << 20)]

    headers = {"authorization": "Bearer secret", "content-length": str(len(payload))}
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{ship}/ports/{upstream}/upload", content=chunks(), headers=headers
        )
    assert answer.status_code == 201
    assert answer.text == f"{hashlib.sha256(payload).hexdigest()} {len(payload)} None"


async def test_a_port_nobody_listens_on_is_502_naming_it(ship: str) -> None:
    port = _closed_port()
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"{ship}/ports/{port}/")
    assert answer.status_code == 502
    assert answer.headers["x-ship-error"] == "ship_error"
    assert answer.json()["error"]["details"] == {"port": port}
    assert f"port {port}" in answer.json()["error"]["message"]


@pytest.mark.parametrize("port", [0, 70000])
async def test_a_port_out_of_range_is_refused(ship: str, port: int) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"{ship}/ports/{port}/")
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "validation_error"


async def test_websocket_messages_are_relayed(ship: str) -> None:
    async def echo(connection: ServerConnection) -> None:
        async for message in connection:
            await connection.send(message)

    async with serve(echo, "127.0.0.1", 0, subprotocols=[CHAT]) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        url = ship.replace("http", "ws", 1) + f"/ports/{port}/echo"
        async with connect(url, subprotocols=[CHAT]) as relayed:
            assert relayed.subprotocol == "chat"
            await relayed.send("ahoy")
            assert await relayed.recv() == "ahoy"
            await relayed.send(b"\x00\x01")
            assert await relayed.recv() == b"\x00\x01"


async def test_tunnel_carries_raw_bytes(ship: str) -> None:
    async def reverse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write((await reader.readline())[::-1])
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(reverse, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, connect(ship.replace("http", "ws", 1) + f"/tunnels/{port}") as tunnel:
        await tunnel.send(b"abc\n")
        assert await tunnel.recv() == b"\ncba"


async def test_an_open_relay_counts_as_activity(ship: str) -> None:
    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, httpx.AsyncClient(base_url=ship) as client:
        async with connect(ship.replace("http", "ws", 1) + f"/tunnels/{port}"):
            busy = (await client.get("/activity")).json()
        idle = busy
        while idle["open_ports"]:  # the relay ends just after the client's close
            idle = (await client.get("/activity")).json()
    assert (busy["open_ports"], idle["open_ports"]) == (1, 0)
