"""`sandbox.url(port)`: a link that opens a sandbox port without the API key, on Bay with
the fake driver (Ship in-process, so its loopback is this machine's)."""

import gzip
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pydantic
import pytest

from shipyard import AsyncClient, Client, InvalidRequestError


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"hello {self.path}".encode()
        gzipped = self.path.endswith(".gz")
        if gzipped:
            body = gzip.compress(body)
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        if gzipped:
            self.send_header("content-encoding", "gzip")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_the_link_opens_the_port_without_a_key(client: Client, port: int) -> None:
    sandbox = client.sandboxes.create()
    sandbox.shell.run("true")  # a running session: a port link never starts one
    link = sandbox.url(port, expires_in=60)
    assert link.url.startswith(f"{client._http.base_url}/v1/sandboxes/{sandbox.id}/ports/{port}/")
    left = link.expires_at - datetime.now(UTC)
    assert timedelta(seconds=50) < left <= timedelta(seconds=60)
    answer = httpx.get(link.url.replace("/?", "/page?a=1&"))
    assert (answer.status_code, answer.text) == (200, "hello /page?a=1")


async def test_the_async_twin_answers_a_link(aclient: AsyncClient) -> None:
    sandbox = await aclient.sandboxes.create()
    link = await sandbox.url(8000)
    assert "shipyard_token=" in link.url


async def test_a_bad_port_or_expiry_is_refused(aclient: AsyncClient) -> None:
    sandbox = await aclient.sandboxes.create()
    with pytest.raises(InvalidRequestError):
        await sandbox.url(0)
    with pytest.raises(pydantic.ValidationError):
        await sandbox.url(80, expires_in=10**9)


def test_an_encoded_answer_reaches_the_client_as_encoded(client: Client, port: int) -> None:
    sandbox = client.sandboxes.create()
    sandbox.shell.run("true")
    link = sandbox.url(port).url.replace("/?", "/a.gz?")
    with httpx.stream("GET", link) as answer:
        raw = b"".join(answer.iter_raw())
        assert answer.headers["content-encoding"] == "gzip"
        assert answer.headers["content-length"] == str(len(raw))
    assert gzip.decompress(raw) == b"hello /a.gz"


def test_a_link_does_not_sign_links(client: Client) -> None:
    """The signing route wants a key, and is refused before a large body is held (413)."""
    sandbox = client.sandboxes.create()
    base, token = sandbox.url(8000).url.split("?")
    assert httpx.post(f"{base}url?{token}", json={}).status_code == 401
    big = httpx.post(f"{base}url?{token}", content=b"x" * (64 * 1024 * 1024))
    assert big.status_code == 413
