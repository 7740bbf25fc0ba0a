"""create_sandbox, delete_sandbox and list_profiles, called directly on the server."""

from mcp.server.mcpserver import MCPServer

from shipyard import AsyncClient, Client, Retries
from shipyard_mcp.config import Settings
from shipyard_mcp.server import create_server
from tests.unit.mcp.conftest import IN_PACKAGE_LOOP, ServerWith, call

pytestmark = IN_PACKAGE_LOOP


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

    async def test_profile_default_comes_from_settings(self, server_with: ServerWith) -> None:
        answer = await call(server_with(default_profile="python-only"), "create_sandbox")
        assert "profile: python-only" in answer

    async def test_unknown_profile_is_an_api_error(self, server: MCPServer) -> None:
        answer = await call(server, "create_sandbox", profile="nope")
        assert answer.startswith("**API Error:** [validation_error]")


class TestListSandboxes:
    async def test_lists_with_status_and_profile(self, server: MCPServer, sandbox_id: str) -> None:
        answer = await call(server, "list_sandboxes", limit=200)
        assert f"- {sandbox_id} [idle] python-default, expires " in answer

    async def test_filters_by_status_and_pages(
        self, server: MCPServer, sandbox_id: str, client: Client
    ) -> None:
        other = client.sandboxes.create()
        assert sandbox_id not in await call(server, "list_sandboxes", status="ready")
        first = await call(server, "list_sandboxes", limit=1)
        assert "more: pass cursor=" in first
        cursor = first.rsplit("cursor=", 1)[1]
        assert cursor not in await call(server, "list_sandboxes", limit=1, cursor=cursor)
        other.delete()


class TestGetSandbox:
    async def test_shows_its_state_now(self, server: MCPServer, sandbox_id: str) -> None:
        assert "status: idle" in await call(server, "get_sandbox", sandbox_id=sandbox_id)
        await call(server, "execute_shell", sandbox_id=sandbox_id, command="true")
        answer = await call(server, "get_sandbox", sandbox_id=sandbox_id)
        assert answer.startswith(f"Sandbox {sandbox_id}\nprofile: python-default")
        assert "status: ready" in answer


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
    async with AsyncClient("http://127.0.0.1:9", retries=Retries(attempts=0)) as unreachable:
        answer = await call(create_server(Settings(), unreachable), "list_profiles")
    assert answer.startswith("**Error:** cannot reach Bay")
