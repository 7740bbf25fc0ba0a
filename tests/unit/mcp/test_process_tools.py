"""start_process, get_process_logs, wait_process, list_processes and kill_process, called on
the server."""

from mcp.server.mcpserver import MCPServer

from shipyard import Client
from tests.unit.mcp.conftest import IN_PACKAGE_LOOP, ServerWith, call

pytestmark = IN_PACKAGE_LOOP


async def started(server: MCPServer, sandbox_id: str, command: str, **args: object) -> str:
    answer = await call(server, "start_process", sandbox_id=sandbox_id, command=command, **args)
    assert answer.startswith("Process proc-"), answer
    return answer.split()[1]


class TestStartProcess:
    async def test_answers_the_id_and_passes_env_and_cwd(
        self, server: MCPServer, sandbox_id: str, client: Client
    ) -> None:
        await call(server, "write_file", sandbox_id=sandbox_id, path="d/f.txt", content="")
        process_id = await started(server, sandbox_id, "echo $X; ls", cwd="d", env={"X": "7"})
        client.sandboxes.get(sandbox_id).processes.wait(process_id, timeout=10)
        logs = await call(server, "get_process_logs", sandbox_id=sandbox_id, process_id=process_id)
        assert logs.endswith("stdout from byte 0 (all read):\n7\nf.txt\n")
        assert "exited, exit code 0" in logs

    async def test_escaping_cwd_is_refused_locally(
        self, server: MCPServer, sandbox_id: str
    ) -> None:
        answer = await call(
            server, "start_process", sandbox_id=sandbox_id, command="true", cwd="/etc"
        )
        assert answer.startswith("**Error:** cwd must be relative")


class TestGetProcessLogs:
    async def test_long_output_comes_in_pages_that_fit(
        self, server_with: ServerWith, sandbox_id: str, client: Client
    ) -> None:
        server = server_with(max_text_chars=300)
        process_id = await started(server, sandbox_id, "printf 'a%.0s' $(seq 1 1000); echo END")
        client.sandboxes.get(sandbox_id).processes.wait(process_id, timeout=10)
        first = await call(server, "get_process_logs", sandbox_id=sandbox_id, process_id=process_id)
        heading, data = first.split("\n", 2)[1:]
        size = int(heading.split("next offset ")[1].split(")")[0])
        assert (len(first) <= 300, data) == (True, "a" * size)
        rest = await call(
            server, "get_process_logs", sandbox_id=sandbox_id, process_id=process_id, offset=990
        )
        assert rest.endswith("from byte 990 (all read):\n" + "a" * 10 + "END\n")

    async def test_too_long_answers_keep_head_and_tail(
        self, server_with: ServerWith, sandbox_id: str
    ) -> None:
        server = server_with(max_text_chars=200)
        command = f": '{'x' * 500}'; echo done"
        process_id = await started(server, sandbox_id, command)
        listing = await call(server, "list_processes", sandbox_id=sandbox_id)
        assert listing.startswith(f"- Process {process_id}")
        assert "...[truncated" in listing
        assert listing.endswith("echo done")

    async def test_unknown_process_is_an_api_error(
        self, server: MCPServer, sandbox_id: str
    ) -> None:
        answer = await call(
            server, "get_process_logs", sandbox_id=sandbox_id, process_id="proc-nope"
        )
        assert answer.startswith("**API Error:** [not_found]")


class TestListAndKill:
    async def test_list_then_signal_then_kill(self, server: MCPServer, sandbox_id: str) -> None:
        assert await call(server, "list_processes", sandbox_id=sandbox_id) == (
            "No background processes"
        )
        process_id = await started(server, sandbox_id, "sleep 30")
        listing = await call(server, "list_processes", sandbox_id=sandbox_id)
        assert listing.startswith(f"- Process {process_id} (running, pid ")
        sent = await call(
            server, "kill_process", sandbox_id=sandbox_id, process_id=process_id, signal="INT"
        )
        assert sent.startswith(f"Sent INT: Process {process_id}")
        killed = await call(server, "kill_process", sandbox_id=sandbox_id, process_id=process_id)
        assert killed.startswith(f"Killed: Process {process_id} (exited")
        assert await call(server, "list_processes", sandbox_id=sandbox_id) == (
            "No background processes"
        )


class TestWaitProcess:
    async def test_answers_the_exit_code_once_it_exits(
        self, server: MCPServer, sandbox_id: str
    ) -> None:
        process_id = await started(server, sandbox_id, "sleep 0.2; exit 3")
        answer = await call(
            server, "wait_process", sandbox_id=sandbox_id, process_id=process_id, timeout=20
        )
        assert answer.startswith(f"Exited: Process {process_id} (exited, exit code 3")

    async def test_says_it_still_runs_after_the_timeout(
        self, server: MCPServer, sandbox_id: str
    ) -> None:
        process_id = await started(server, sandbox_id, "sleep 30")
        answer = await call(
            server, "wait_process", sandbox_id=sandbox_id, process_id=process_id, timeout=1
        )
        assert answer.startswith(f"Still running after 1 s: Process {process_id} (running")
        await call(server, "kill_process", sandbox_id=sandbox_id, process_id=process_id)
