"""MCP fixtures: the server's tools against Bay served in a thread."""

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent

from shipyard import AsyncClient, Client
from shipyard_mcp.config import Settings
from shipyard_mcp.server import create_server
from tests.unit.bay.conftest import ADMIN_KEY
from tests.unit.sdk.live import serve_bay


@pytest.fixture(scope="package")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_bay(tmp_path_factory.mktemp("bay")) as url:
        yield url


@pytest.fixture
def settings(live_url: str) -> Settings:
    return Settings(endpoint=live_url, token=ADMIN_KEY)


ServerWith = Callable[..., MCPServer]
# Each test module here runs its async tests in this package's event loop (`pytestmark =
# IN_PACKAGE_LOOP`), where its module's server and client live: building a server (its
# tools' argument models) costs about 0.1 s of CPU, which each test paid when it had its own.
# Tests read only what their own calls answer.
IN_PACKAGE_LOOP = pytest.mark.asyncio(loop_scope="package")


@pytest_asyncio.fixture(scope="module", loop_scope="package")
async def shared_client(live_url: str) -> AsyncIterator[AsyncClient]:
    """The client the module's servers share (a module may serve its own Bay at `live_url`;
    a server's own client lives as long as its process)."""
    async with AsyncClient(live_url, ADMIN_KEY) as client:
        yield client


@pytest.fixture
def server_with(settings: Settings, shared_client: AsyncClient) -> ServerWith:
    """`server_with(**changes)`: a server of its own on settings with `changes`."""
    return lambda **changes: create_server(replace(settings, **changes), shared_client)


@pytest.fixture(scope="module")
def server(live_url: str, shared_client: AsyncClient) -> MCPServer:
    """The server on default settings, for the module's tests."""
    return create_server(Settings(endpoint=live_url, token=ADMIN_KEY), shared_client)


@pytest.fixture(scope="module")
def client(live_url: str) -> Iterator[Client]:
    """One client per Bay at `live_url`, shared by the module's tests."""
    with Client(live_url, ADMIN_KEY) as sync_client:
        yield sync_client


@pytest.fixture
def sandbox_id(client: Client) -> Iterator[str]:
    with client.sandboxes.create() as sandbox:
        yield sandbox.id


def text_of(result: object) -> str:
    """The one text block a tool answered."""
    assert isinstance(result, CallToolResult)
    (block,) = result.content
    assert isinstance(block, TextContent)
    return block.text


async def call(server: MCPServer, tool: str, **arguments: Any) -> str:
    """Call a tool directly and answer its text."""
    return text_of(await server.call_tool(tool, arguments))


async def call_result(server: MCPServer, tool: str, **arguments: Any) -> CallToolResult:
    """Call a tool directly and answer the whole result, `is_error` included."""
    result = await server.call_tool(tool, arguments)
    assert isinstance(result, CallToolResult)
    return result


def local(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path
