"""create_sandbox, delete_sandbox and list_profiles, called directly on the server."""

from dataclasses import replace

from mcp.server.mcpserver import MCPServer

from shipyard import AsyncClient, Client, Retries
from shipyard_mcp.config import Settings
from shipyard_mcp.server import create_server
from tests.unit.mcp.conftest import call


class TestCreateSandbox:
    async def test_uses_the_default_profile_and_ttl(
        self, server: MCPServer, client: Client
    ) -> None:
        answer = await call(server, "create_sandbox")
        sandbox = client.sandboxes.get(answer.split()[1])
        assert sandbox.info.profile == "python-default"
        assert sandbox.info.expires_at is not None
        assert "capabilities: filesystem, shell, python" in answer

    async def test_ttl_zero_never_expires(self, server: MCPServer) -> None:
        answer = await call(server, "create_sandbox", profile="python-only", ttl=0)
        assert "expires_at: never" in answer

    async def test_profile_default_comes_from_settings(self, settings: Settings) -> None:
        settings = replace(settings, default_profile="python-only")
        answer = await call(create_server(settings), "create_sandbox")
        assert "profile: python-only" in answer

    async def test_unknown_profile_is_an_api_error(self, server: MCPServer) -> None:
        answer = await call(server, "create_sandbox", profile="nope")
        assert answer.startswith("**API Error:** [validation_error]")


class TestDeleteSandbox:
    async def test_deletes(self, server: MCPServer, client: Client) -> None:
        sandbox_id = client.sandboxes.create().id
        assert (
            await call(server, "delete_sandbox", sandbox_id=sandbox_id)
            == f"Sandbox {sandbox_id} deleted"
        )
        gone = await call(server, "delete_sandbox", sandbox_id=sandbox_id)
        assert gone.startswith("**API Error:** [not_found]")

    async def test_bad_id_is_refused_locally(self, server: MCPServer) -> None:
        answer = await call(server, "delete_sandbox", sandbox_id="../etc")
        assert answer.startswith("**Error:** sandbox_id must be")


class TestListProfiles:
    async def test_lists_each_profile(self, server: MCPServer) -> None:
        answer = await call(server, "list_profiles")
        assert "- python-only: python; idle timeout" in answer


async def test_unreachable_bay_still_answers_text() -> None:
    def unreachable() -> AsyncClient:
        return AsyncClient("http://127.0.0.1:9", retries=Retries(attempts=0))

    answer = await call(create_server(Settings(), unreachable), "list_profiles")
    assert answer.startswith("**Error:** cannot reach Bay")
