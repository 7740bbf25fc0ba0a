"""execute_python, execute_shell and the history tools, called directly on the server."""

from collections.abc import Iterator

import pytest
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from shipyard import Client
from tests.unit.bay.conftest import ADMIN_KEY
from tests.unit.mcp.conftest import IN_PACKAGE_LOOP, ServerWith, call

pytestmark = IN_PACKAGE_LOOP


@pytest.fixture(scope="module")
def python_sandbox(live_url: str) -> Iterator[str]:
    """One sandbox whose kernel the Python tests share (a kernel takes seconds to start)."""
    with Client(live_url, ADMIN_KEY) as client, client.sandboxes.create() as sandbox:
        yield sandbox.id


class TestExecutePython:
    async def test_keeps_state_and_reports_failures(
        self, server: MCPServer, python_sandbox: str
    ) -> None:
        await call(server, "execute_python", sandbox_id=python_sandbox, code="x = 6")
        ok = await call(
            server,
            "execute_python",
            sandbox_id=python_sandbox,
            code="print(x * 7)",
            include_code=True,
        )
        assert ok.startswith("Python succeeded (exec-")
        assert "code:\nprint(x * 7)\noutput:\n42" in ok
        failed = await call(server, "execute_python", sandbox_id=python_sandbox, code="1/0")
        assert failed.startswith("Python failed")
        assert "ZeroDivisionError" in failed

    async def test_long_output_keeps_head_and_tail(
        self, server_with: ServerWith, python_sandbox: str
    ) -> None:
        server = server_with(max_text_chars=200)
        answer = await call(
            server, "execute_python", sandbox_id=python_sandbox, code="print('a' * 500 + 'END')"
        )
        assert "...[truncated" in answer
        assert answer.endswith("END")
        assert answer.startswith("Python succeeded")


class TestExecuteShell:
    async def test_answers_output_error_and_exit_code(
        self, server: MCPServer, sandbox_id: str
    ) -> None:
        answer = await call(
            server, "execute_shell", sandbox_id=sandbox_id, command="echo hi; echo no >&2; exit 2"
        )
        assert answer.startswith("Exit code 2 (exec-")
        assert answer.endswith("output:\nhi\nerror:\nno")

    async def test_runs_in_cwd(self, server: MCPServer, sandbox_id: str) -> None:
        await call(server, "write_file", sandbox_id=sandbox_id, path="d/f.txt", content="")
        answer = await call(server, "execute_shell", sandbox_id=sandbox_id, command="ls", cwd="d")
        assert answer.endswith("output:\nf.txt")

    async def test_an_absolute_cwd_inside_the_workspace_is_taken(
        self, server: MCPServer, sandbox_id: str
    ) -> None:
        await call(
            server, "write_file", sandbox_id=sandbox_id, path="/workspace/e/g.txt", content=""
        )
        answer = await call(
            server, "execute_shell", sandbox_id=sandbox_id, command="ls", cwd="/workspace/e"
        )
        assert answer.endswith("output:\ng.txt")
        refused = await call(
            server, "execute_shell", sandbox_id=sandbox_id, command="ls", cwd="/etc"
        )
        assert refused.startswith("**Error:** cwd must be relative")

    async def test_escaping_cwd_is_refused_locally(
        self, server: MCPServer, sandbox_id: str
    ) -> None:
        answer = await call(
            server, "execute_shell", sandbox_id=sandbox_id, command="ls", cwd="../.."
        )
        assert answer.startswith("**Error:** cwd must be relative")

    async def test_timeout_out_of_range_is_rejected_by_the_schema(
        self, server: MCPServer, sandbox_id: str
    ) -> None:
        with pytest.raises(ToolError, match="greater than or equal to 1"):
            await server.call_tool(
                "execute_shell", {"sandbox_id": sandbox_id, "command": "true", "timeout": 0}
            )


class TestHistoryTools:
    async def test_history_get_last_and_annotate(self, server: MCPServer, sandbox_id: str) -> None:
        first = await call(
            server, "execute_shell", sandbox_id=sandbox_id, command="echo one", tags="t1"
        )
        execution_id = first.split("(")[1].split(",")[0]
        await call(server, "execute_shell", sandbox_id=sandbox_id, command="false")
        listing = await call(server, "get_execution_history", sandbox_id=sandbox_id, tags="t1")
        assert listing == f"1 of 1 executions (newest first)\n- {execution_id} [shell] ok: echo one"
        shown = await call(
            server, "get_execution", sandbox_id=sandbox_id, execution_id=execution_id
        )
        assert "tags: t1" in shown
        assert shown.endswith("output:\none")
        last = await call(server, "get_last_execution", sandbox_id=sandbox_id, exec_type="shell")
        assert "success: False" in last
        noted = await call(
            server,
            "annotate_execution",
            sandbox_id=sandbox_id,
            execution_id=execution_id,
            notes="kept",
        )
        assert "notes: kept" in noted

    async def test_missing_execution_is_an_api_error(
        self, server: MCPServer, sandbox_id: str
    ) -> None:
        answer = await call(server, "get_execution", sandbox_id=sandbox_id, execution_id="exec-0")
        assert answer.startswith("**API Error:** [not_found]")
