"""A failed call says so: `isError` is set on Bay's errors, refused arguments and an
unreachable Bay, and only on them."""

from mcp.server.mcpserver import MCPServer

from shipyard import AsyncClient, Retries
from shipyard_mcp.config import Settings
from shipyard_mcp.server import create_server
from tests.unit.mcp.conftest import IN_PACKAGE_LOOP, call_result, text_of

pytestmark = IN_PACKAGE_LOOP


async def test_an_api_error_is_an_error(server: MCPServer) -> None:
    result = await call_result(server, "get_sandbox", sandbox_id="sandbox-000000000000")
    assert result.is_error
    assert text_of(result).startswith("**API Error:** [not_found]")


async def test_a_refused_argument_is_an_error(server: MCPServer, sandbox_id: str) -> None:
    result = await call_result(server, "read_file", sandbox_id=sandbox_id, path="../x")
    assert result.is_error
    assert text_of(result).startswith("**Error:** path must be relative")


async def test_an_unreachable_bay_is_an_error() -> None:
    async with AsyncClient("http://127.0.0.1:9", retries=Retries(attempts=0)) as unreachable:
        result = await call_result(create_server(Settings(), unreachable), "list_profiles")
    assert result.is_error
    assert text_of(result).startswith("**Error:** cannot reach Bay at http://127.0.0.1:9")


async def test_a_failed_run_is_a_result_not_an_error(server: MCPServer, sandbox_id: str) -> None:
    result = await call_result(server, "execute_python", sandbox_id=sandbox_id, code="1/0")
    assert not result.is_error
    assert "ZeroDivisionError" in text_of(result)
