"""The `shipyard-mcp` process over stdio and streamable HTTP, spoken to by the `mcp` client."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from tests.unit.bay.conftest import ADMIN_KEY
from tests.unit.mcp.conftest import text_of

TOOLS = {
    "create_sandbox",
    "delete_sandbox",
    "execute_python",
    "execute_shell",
    "read_file",
    "write_file",
    "list_files",
    "delete_file",
    "upload_file",
    "download_file",
    "get_execution_history",
    "get_execution",
    "get_last_execution",
    "annotate_execution",
    "list_profiles",
    "start_process",
    "get_process_logs",
    "list_processes",
    "kill_process",
    "get_port_url",
    "list_sandboxes",
    "get_sandbox",
    "wait_process",
    "execute_browser",
    "execute_browser_batch",
    "create_skill_payload",
    "get_skill_payload",
    "create_skill_candidate",
    "get_skill_candidate",
    "list_skill_candidates",
    "evaluate_skill_candidate",
    "promote_skill_candidate",
    "delete_skill_candidate",
    "list_skill_releases",
    "get_skill_release_health",
    "delete_skill_release",
    "rollback_skill_release",
}


def server_env(live_url: str) -> dict[str, str]:
    return dict(os.environ, SHIPYARD_ENDPOINT_URL=live_url, SHIPYARD_ACCESS_TOKEN=ADMIN_KEY)


async def test_stdio_lists_tools_and_runs_python(live_url: str) -> None:
    command = [sys.executable, "-m", "shipyard_mcp"]
    params = StdioServerParameters(command=command[0], args=command[1:], env=server_env(live_url))
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        assert {tool.name for tool in (await session.list_tools()).tools} == TOOLS
        created = text_of(await session.call_tool("create_sandbox", {"ttl": 600}))
        sandbox_id = created.split()[1]
        code = {"sandbox_id": sandbox_id, "code": "print(6*7)"}
        assert "output:\n42" in text_of(await session.call_tool("execute_python", code))
        deleted = await session.call_tool("delete_sandbox", {"sandbox_id": sandbox_id})
        assert text_of(deleted) == f"Sandbox {sandbox_id} deleted"


async def test_stdio_keeps_stderr_free_of_request_logs(live_url: str, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "shipyard_mcp"]
    params = StdioServerParameters(command=command[0], args=command[1:], env=server_env(live_url))
    with (tmp_path / "stderr").open("w+") as errlog:
        async with (
            stdio_client(params, errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            await session.call_tool("list_profiles", {})
            await session.call_tool("list_sandboxes", {})
        errlog.seek(0)
        logged = errlog.read()
    assert "HTTP Request" not in logged
    assert "INFO" not in logged


@pytest.fixture
def http_server(live_url: str) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = ["--transport", "streamable-http", "--port", str(port)]
    process = subprocess.Popen(
        [sys.executable, "-m", "shipyard_mcp", *argv],
        env=server_env(live_url),
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_for_port(port: int, process: "subprocess.Popen[bytes]") -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and process.poll() is None:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError("shipyard-mcp did not start listening")


async def test_streamable_http_lists_tools(http_server: str) -> None:
    async with (
        streamable_http_client(http_server) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        assert {tool.name for tool in (await session.list_tools()).tools} == TOOLS
        assert "python-default" in text_of(await session.call_tool("list_profiles", {}))
