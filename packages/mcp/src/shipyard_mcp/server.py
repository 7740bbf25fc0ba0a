"""MCP server: tools with upstream's names and arguments (contract §6.1), over the Shipyard SDK."""

import argparse
import os

from mcp.server.mcpserver import MCPServer

from shipyard import AsyncClient
from shipyard_mcp.browser_tools import BrowserTools
from shipyard_mcp.config import Settings
from shipyard_mcp.file_tools import FileTools
from shipyard_mcp.process_tools import ProcessTools
from shipyard_mcp.sandbox_tools import SandboxTools
from shipyard_mcp.sandboxes import SandboxCache
from shipyard_mcp.skill_tools import SkillTools

INSTRUCTIONS = (
    "Shipyard sandboxes: create_sandbox, then execute_python / execute_shell and the file "
    "tools with its id. Files live under /workspace and persist; delete_sandbox when done. "
    "For servers and long jobs use start_process, then get_process_logs or wait_process; "
    "get_port_url gives a browser link to a server's port. In a sandbox whose profile has "
    "the browser capability, execute_browser drives a headless Chromium (`open URL`, then "
    "`snapshot -i`). Good runs become skills: create_skill_candidate from their execution "
    "ids, evaluate_skill_candidate, promote_skill_candidate. A failed call answers with "
    "isError set and says why."
)


def create_server(settings: Settings, client: AsyncClient | None = None) -> MCPServer:
    """The server with every tool, all sharing `client` (by default one made from `settings`)
    and one cache of sandbox handles. A client made here lives as long as the process: a
    streamable-HTTP server runs its lifespan once per session, so no lifespan may close it."""
    client = client or AsyncClient(settings.endpoint, settings.token, timeout=settings.call_timeout)
    cache = SandboxCache(client, settings.sandbox_cache_size)
    sandboxes = SandboxTools(settings, client, cache)
    files = FileTools(settings, client, cache)
    processes = ProcessTools(settings, client, cache)
    browser = BrowserTools(settings, client, cache)
    skills = SkillTools(settings, client, cache)
    server: MCPServer = MCPServer(
        name="shipyard", instructions=INSTRUCTIONS, log_level=settings.log_level
    )
    for tool in (
        sandboxes.create_sandbox,
        sandboxes.list_sandboxes,
        sandboxes.get_sandbox,
        sandboxes.delete_sandbox,
        sandboxes.execute_python,
        sandboxes.execute_shell,
        files.read_file,
        files.write_file,
        files.list_files,
        files.delete_file,
        files.upload_file,
        files.download_file,
        sandboxes.get_execution_history,
        sandboxes.get_execution,
        sandboxes.get_last_execution,
        sandboxes.annotate_execution,
        processes.start_process,
        processes.get_process_logs,
        processes.wait_process,
        processes.list_processes,
        processes.kill_process,
        sandboxes.get_port_url,
        sandboxes.list_profiles,
        browser.execute_browser,
        browser.execute_browser_batch,
        skills.create_skill_payload,
        skills.get_skill_payload,
        skills.create_skill_candidate,
        skills.get_skill_candidate,
        skills.list_skill_candidates,
        skills.evaluate_skill_candidate,
        skills.promote_skill_candidate,
        skills.delete_skill_candidate,
        skills.list_skill_releases,
        skills.get_skill_release_health,
        skills.rollback_skill_release,
        skills.delete_skill_release,
    ):
        server.add_tool(tool)
    return server


def main(argv: list[str] | None = None) -> None:
    """`shipyard-mcp [--transport stdio|streamable-http] [--host H] [--port N]`."""
    parser = argparse.ArgumentParser(prog="shipyard-mcp", description="Shipyard Neo MCP server")
    parser.add_argument("--transport", choices=["stdio", "streamable-http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1", help="streamable-http only")
    parser.add_argument("--port", type=int, default=8000, help="streamable-http only")
    args = parser.parse_args(argv)
    server = create_server(Settings.from_env(os.environ))
    if args.transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=args.host, port=args.port)
