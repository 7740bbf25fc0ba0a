"""MCP server: typed tools (upstream names and arguments) that call the Shipyard SDK."""

import os
from collections.abc import Callable

from mcp.server.mcpserver import MCPServer

from shipyard import AsyncClient, ShipyardError

ClientFactory = Callable[[], AsyncClient]

MAX_TEXT = int(os.environ.get("SHIPYARD_MAX_TOOL_TEXT_CHARS", "12000"))


def truncate(text: str, limit: int = MAX_TEXT) -> str:
    """Keep head and tail of long tool output, with a visible marker."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n...[truncated {len(text) - 2 * half} chars]...\n{text[-half:]}"


def _default_client() -> AsyncClient:
    endpoint = os.environ.get("SHIPYARD_ENDPOINT_URL") or os.environ.get("BAY_ENDPOINT")
    token = os.environ.get("SHIPYARD_ACCESS_TOKEN") or os.environ.get("BAY_TOKEN")
    return AsyncClient(endpoint, token)


def _api_error(exc: ShipyardError) -> str:
    return f"**API Error:** [{exc.code}] {exc.message}"


def create_server(client_factory: ClientFactory = _default_client) -> MCPServer:
    server: MCPServer = MCPServer(name="shipyard")

    @server.tool()
    async def create_sandbox(profile: str = "python-default", ttl: int = 3600) -> str:
        """Create a sandbox and return its id."""
        async with client_factory() as client:
            try:
                sandbox = await client.create_sandbox(profile, ttl or None)
            except ShipyardError as exc:
                return _api_error(exc)
        return f"Sandbox created: {sandbox.id} (profile {sandbox.profile})"

    @server.tool()
    async def delete_sandbox(sandbox_id: str) -> str:
        """Delete a sandbox and its managed files."""
        async with client_factory() as client:
            try:
                await client.delete_sandbox(sandbox_id)
            except ShipyardError as exc:
                return _api_error(exc)
        return f"Sandbox {sandbox_id} deleted"

    @server.tool()
    async def execute_python(sandbox_id: str, code: str, timeout: int = 30) -> str:
        """Run Python in the sandbox's kernel; variables persist between calls."""
        async with client_factory() as client:
            try:
                result = await client.run_python(sandbox_id, code, timeout)
            except ShipyardError as exc:
                return _api_error(exc)
        text = result.output if result.success else f"{result.output}\n{result.error or ''}"
        return truncate(text.strip() or "(no output)")

    @server.tool()
    async def execute_shell(sandbox_id: str, command: str, timeout: int = 30) -> str:
        """Run a shell command in the sandbox's /workspace."""
        async with client_factory() as client:
            try:
                result = await client.run_shell(sandbox_id, command, timeout)
            except ShipyardError as exc:
                return _api_error(exc)
        text = "\n".join(p for p in (result.output, result.error or "") if p)
        return truncate(f"{text}\n(exit code {result.exit_code})".strip())

    return server


def main() -> None:
    create_server().run("stdio")
