"""execute_browser and execute_browser_batch, with the fake driver's stand-in agent-browser."""

from mcp.server.mcpserver import MCPServer

from tests.unit.mcp.conftest import IN_PACKAGE_LOOP, ServerWith, call, call_result, text_of
from tests.unit.sdk import live

live_url = live.browser_bay_url
browser_id = live.browser_sandbox_id


pytestmark = IN_PACKAGE_LOOP


class TestExecuteBrowser:
    async def test_answers_the_output(self, server: MCPServer, browser_id: str) -> None:
        answer = await call(
            server, "execute_browser", sandbox_id=browser_id, cmd="open about:blank"
        )
        assert answer.startswith("Browser command succeeded, exit code 0 (exec-")
        assert answer.endswith("output:\nopen about:blank")

    async def test_a_failure_is_a_result(self, server: MCPServer, browser_id: str) -> None:
        result = await call_result(server, "execute_browser", sandbox_id=browser_id, cmd="fail")
        assert not result.is_error
        answer = text_of(result)
        assert answer.startswith("Browser command failed, exit code 1")
        assert answer.endswith("output: (none)\nerror:\nno element matches")

    async def test_include_trace_answers_the_ref(self, server: MCPServer, browser_id: str) -> None:
        answer = await call(
            server, "execute_browser", sandbox_id=browser_id, cmd="echo a", include_trace=True
        )
        assert answer.splitlines()[-1].startswith("trace_ref: blob:")

    async def test_long_output_is_bounded(self, server_with: ServerWith, browser_id: str) -> None:
        server = server_with(max_text_chars=200)
        answer = await call(server, "execute_browser", sandbox_id=browser_id, cmd="spam 5000")
        assert "...[truncated" in answer
        assert len(answer) < 300

    async def test_a_sandbox_without_a_browser_is_an_api_error(
        self, server: MCPServer, sandbox_id: str
    ) -> None:
        result = await call_result(
            server, "execute_browser", sandbox_id=sandbox_id, cmd="open about:blank"
        )
        assert result.is_error
        assert text_of(result).startswith("**API Error:** [capability_not_supported]")


class TestExecuteBrowserBatch:
    async def test_stops_at_the_first_failure(self, server: MCPServer, browser_id: str) -> None:
        answer = await call(
            server,
            "execute_browser_batch",
            sandbox_id=browser_id,
            commands=["echo a", "fail", "echo b"],
        )
        lines = answer.splitlines()
        assert lines[0].startswith("Browser batch failed: 2 of 3 steps ran (exec-")
        assert lines[1].startswith("step 1: echo a (exit code 0, ")
        assert lines[2] == "echo a"
        assert lines[3].startswith("step 2: fail (exit code 1, ")
        assert lines[4:] == ["error:", "no element matches"]

    async def test_keeps_going_when_asked(self, server: MCPServer, browser_id: str) -> None:
        answer = await call(
            server,
            "execute_browser_batch",
            sandbox_id=browser_id,
            commands=["fail", "echo b"],
            stop_on_error=False,
        )
        assert answer.startswith("Browser batch failed: 2 of 2 steps ran")
        assert answer.endswith("echo b")
