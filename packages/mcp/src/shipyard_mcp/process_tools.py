"""Tools for background processes: servers and long jobs that outlive one tool call."""

from typing import Annotated, Literal

from pydantic import Field

from shipyard_mcp import text
from shipyard_mcp.text import check_path
from shipyard_mcp.tools import SandboxId, Tools, answered

LOG_HEADING = 80  # characters of a logs answer besides the process line and the data
ProcessId = Annotated[str, Field(description="The process id that start_process answered.")]


class ProcessTools(Tools):
    """Background processes."""

    @answered
    async def start_process(
        self,
        sandbox_id: SandboxId,
        command: Annotated[str, Field(description="A bash command, e.g. a server or a build.")],
        cwd: Annotated[str | None, Field(description="Directory under /workspace.")] = None,
        env: Annotated[dict[str, str] | None, Field(description="Extra variables.")] = None,
    ) -> str:
        """Start a long-running command in the background; answers its process id at once.

        Read its output with get_process_logs, wait for it with wait_process; it ends with
        kill_process or the sandbox."""
        where = None if cwd is None else check_path(cwd, "cwd")
        sandbox = await self._sandbox(sandbox_id)
        return text.process(await sandbox.processes.start(command, cwd=where, env=env))

    @answered
    async def get_process_logs(
        self,
        sandbox_id: SandboxId,
        process_id: ProcessId,
        stream: Literal["stdout", "stderr"] = "stdout",
        offset: Annotated[
            int, Field(ge=0, description="Byte to start at: the previous answer's next offset.")
        ] = 0,
    ) -> str:
        """Read a background process's output from `offset`; the answer says where to go on."""
        processes = (await self._sandbox(sandbox_id)).processes
        info = await processes.get(process_id)
        # Read no more than fits beside the heading, so pages are not cut in the middle.
        room = self._settings.max_text_chars - len(text.process(info)) - LOG_HEADING
        logs = await processes.logs(
            process_id, stream=stream, offset=offset, limit=max(room, LOG_HEADING)
        )
        return self._bounded(text.process_logs(info, logs))

    @answered
    async def wait_process(
        self,
        sandbox_id: SandboxId,
        process_id: ProcessId,
        timeout: Annotated[int, Field(ge=1, le=300, description="Seconds to wait at most.")] = 30,
    ) -> str:
        """Wait until a background process exits (a build, a test run) and answer its exit
        code, or its state after `timeout` seconds if it still runs."""
        processes = (await self._sandbox(sandbox_id)).processes
        info = await processes.wait(process_id, timeout=timeout)
        if info.state == "running":
            return f"Still running after {timeout} s: {text.process(info)}"
        return f"Exited: {text.process(info)}"

    @answered
    async def list_processes(self, sandbox_id: SandboxId) -> str:
        """List the sandbox's background processes, running and exited."""
        processes = await (await self._sandbox(sandbox_id)).processes.list()
        return self._bounded(text.processes(processes))

    @answered
    async def kill_process(
        self,
        sandbox_id: SandboxId,
        process_id: ProcessId,
        signal: Annotated[
            str | None, Field(description="Only send this signal (TERM, INT, HUP, …).")
        ] = None,
    ) -> str:
        """Kill a background process with its children and forget it, or only send `signal`."""
        processes = (await self._sandbox(sandbox_id)).processes
        if signal is not None:
            return f"Sent {signal}: {text.process(await processes.signal(process_id, signal))}"
        return f"Killed: {text.process(await processes.kill(process_id))}"
