"""MCP fixtures: the server's tools against Bay served in a thread."""

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
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


@pytest.fixture
async def server_with(settings: Settings) -> AsyncIterator[ServerWith]:
    """`server_with(**changes)`: a server on settings with `changes`, on a client closed after
    the test (a server's own client lives as long as its process)."""
    async with AsyncClient(settings.endpoint, settings.token) as shared:
        yield lambda **changes: create_server(replace(settings, **changes), shared)


@pytest.fixture
def server(server_with: ServerWith) -> MCPServer:
    return server_with()


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
