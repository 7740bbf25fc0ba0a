"""The MCP server's tools against the real Bay app in-process."""

from pathlib import Path

from mcp.types import TextContent

from shipyard import AsyncClient
from shipyard_mcp.server import create_server, truncate
from tests.unit.bay.conftest import ADMIN_KEY, make_settings, start_bay


def text_of(result: object) -> str:
    content = getattr(result, "content")  # noqa: B009 - CallToolResult or a tuple in older SDKs
    first = content[0]
    assert isinstance(first, TextContent)
    return first.text


async def test_tools_create_and_execute(tmp_path: Path) -> None:
    async with start_bay(make_settings(tmp_path)) as bay:
        transport = bay.client._transport
        server = create_server(lambda: AsyncClient("http://bay", ADMIN_KEY, transport=transport))
        names = {tool.name for tool in await server.list_tools()}
        assert {"create_sandbox", "execute_python", "execute_shell", "delete_sandbox"} <= names
        created = text_of(await server.call_tool("create_sandbox", {}))
        sandbox_id = created.split()[2]
        ran = await server.call_tool(
            "execute_python", {"sandbox_id": sandbox_id, "code": "print(6*7)"}
        )
        assert text_of(ran) == "42"
        missing = await server.call_tool(
            "execute_shell", {"sandbox_id": "sandbox-0", "command": "id"}
        )
        assert text_of(missing).startswith("**API Error:** [not_found]")


def test_truncate_keeps_head_and_tail() -> None:
    text = "a" * 50 + "b" * 50
    cut = truncate(text, 20)
    assert cut.startswith("a" * 10)
    assert cut.endswith("b" * 10)
    assert "truncated 80 chars" in cut
