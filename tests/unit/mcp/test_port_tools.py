"""get_port_url, called on the server."""

from mcp.server.mcpserver import MCPServer

from tests.unit.mcp.conftest import IN_PACKAGE_LOOP, call

pytestmark = IN_PACKAGE_LOOP


async def test_answers_a_link_to_the_port_and_its_expiry(
    server: MCPServer, sandbox_id: str
) -> None:
    answer = await call(server, "get_port_url", sandbox_id=sandbox_id, port=8000, expires_in=60)
    link, until = answer.split("\n")
    assert f"/v1/sandboxes/{sandbox_id}/ports/8000/?shipyard_token=" in link
    assert until.startswith("(works until ")
