"""One client for the server's life, and no `GET` of the sandbox before each call: known
sandboxes are cached up to `SHIPYARD_SANDBOX_CACHE_SIZE`, least recently used out first."""

from collections.abc import AsyncIterator

import httpx
import pytest

from shipyard import AsyncClient, Client
from shipyard_mcp.config import Settings
from shipyard_mcp.server import create_server
from tests.unit.mcp.conftest import IN_PACKAGE_LOOP, call

pytestmark = IN_PACKAGE_LOOP


class Counted(httpx.AsyncBaseTransport):
    """A real transport that keeps `METHOD path` of every request."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self._real = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(f"{request.method} {request.url.path}")
        return await self._real.handle_async_request(request)

    async def aclose(self) -> None:
        await self._real.aclose()


@pytest.fixture
async def counted(settings: Settings) -> AsyncIterator[tuple[Counted, AsyncClient]]:
    transport = Counted()
    async with AsyncClient(settings.endpoint, settings.token, transport=transport) as client:
        yield transport, client


def gets_of(transport: Counted, sandbox_id: str) -> int:
    return transport.sent.count(f"GET /v1/sandboxes/{sandbox_id}")


async def test_a_created_sandbox_is_never_fetched(
    settings: Settings, counted: tuple[Counted, AsyncClient]
) -> None:
    transport, client = counted
    server = create_server(settings, client)
    sandbox_id = (await call(server, "create_sandbox")).split()[1]
    for _ in range(3):
        await call(server, "execute_shell", sandbox_id=sandbox_id, command="true")
    await call(server, "write_file", sandbox_id=sandbox_id, path="a", content="")
    assert gets_of(transport, sandbox_id) == 0
    # Every call went through the one client the server was given.
    assert transport.sent.count(f"POST /v1/sandboxes/{sandbox_id}/shell/exec") == 3
    await call(server, "delete_sandbox", sandbox_id=sandbox_id)


async def test_a_sandbox_made_elsewhere_is_fetched_once(
    settings: Settings, counted: tuple[Counted, AsyncClient], sandbox_id: str
) -> None:
    transport, client = counted
    server = create_server(settings, client)
    for _ in range(3):
        await call(server, "execute_shell", sandbox_id=sandbox_id, command="true")
    assert gets_of(transport, sandbox_id) == 1


async def test_the_least_recently_used_is_dropped_past_the_size(
    settings: Settings, counted: tuple[Counted, AsyncClient], client: Client
) -> None:
    transport, shared = counted
    server = create_server(
        Settings(settings.endpoint, settings.token, sandbox_cache_size=1), shared
    )
    first, second = client.sandboxes.create(), client.sandboxes.create()
    for sandbox in (first, second, first):
        await call(server, "list_files", sandbox_id=sandbox.id)
    assert (gets_of(transport, first.id), gets_of(transport, second.id)) == (2, 1)
    first.delete()
    second.delete()
