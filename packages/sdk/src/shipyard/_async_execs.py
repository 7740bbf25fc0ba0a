"""`sandbox.python`, `sandbox.shell`, `sandbox.browser`, `sandbox.executions` and
`sandbox.processes` (async)."""

import asyncio
import builtins
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from shipyard import _browser_calls as browser
from shipyard import _endpoints as req
from shipyard._async_stream import AsyncExecStream
from shipyard_protocol import api, ship

if TYPE_CHECKING:
    from shipyard._async import AsyncClient


class AsyncPython:
    """`sandbox.python`: the sandbox's IPython kernel."""

    def __init__(self, client: "AsyncClient", sandbox_id: str) -> None:
        self._client = client
        self._id = sandbox_id

    async def run(
        self,
        code: str,
        *,
        timeout: int = 30,
        include_code: bool = False,
        description: str | None = None,
        tags: req.Tags | None = None,
    ) -> api.PythonExecResult:
        """Run code; variables persist between runs. A raising program is `success=False`."""
        call = req.run_python(
            self._id,
            code,
            timeout=timeout,
            include_code=include_code,
            description=description,
            tags=tags,
        )
        return await self._client._call(call)

    def stream(
        self,
        code: str,
        *,
        timeout: int = 30,
        include_code: bool = False,
        description: str | None = None,
        tags: req.Tags | None = None,
    ) -> AsyncExecStream:
        """Run code and iterate its events as they happen (see `AsyncExecStream`).

        stdout, stderr, displays, the result and the error arrive live; the last event is
        always `EndEvent`. The execution is recorded in history like `run()`.
        """
        call = req.run_python(
            self._id,
            code,
            timeout=timeout,
            include_code=include_code,
            description=description,
            tags=tags,
        )
        return self._client._stream(req.as_events(call), self._id)

    async def interrupt(self) -> api.KernelControl:
        """Interrupt the running code (KeyboardInterrupt in the kernel); variables stay."""
        return await self._client._call(req.interrupt_kernel(self._id))

    async def restart(self) -> api.KernelControl:
        """Restart the kernel: every variable is lost, the next result says `kernel_restarted`."""
        return await self._client._call(req.restart_kernel(self._id))


class AsyncShell:
    """`sandbox.shell`: one-shot shell commands in `/workspace`."""

    def __init__(self, client: "AsyncClient", sandbox_id: str) -> None:
        self._client = client
        self._id = sandbox_id

    async def run(
        self,
        command: str,
        *,
        timeout: int = 30,
        cwd: str | None = None,
        include_code: bool = False,
        description: str | None = None,
        tags: req.Tags | None = None,
    ) -> api.ShellExecResult:
        """Run `command` with bash; `exit_code` and `success` report how it ended."""
        call = req.run_shell(
            self._id,
            command,
            timeout=timeout,
            cwd=cwd,
            include_code=include_code,
            description=description,
            tags=tags,
        )
        return await self._client._call(call)

    def stream(
        self,
        command: str,
        *,
        timeout: int = 30,
        cwd: str | None = None,
        include_code: bool = False,
        description: str | None = None,
        tags: req.Tags | None = None,
    ) -> AsyncExecStream:
        """Run `command` and iterate its stdout and stderr as they come (see `AsyncExecStream`).

        The last event is always `EndEvent`, whose `exit_code` tells how the command ended.
        """
        call = req.run_shell(
            self._id,
            command,
            timeout=timeout,
            cwd=cwd,
            include_code=include_code,
            description=description,
            tags=tags,
        )
        return self._client._stream(req.as_events(call), self._id)


class AsyncBrowser:
    """`sandbox.browser`: agent-browser commands (`open URL`, `snapshot -i`, `click @e2`, …)
    in the sandbox's headless Chromium; the page and its cookies stay between calls.

    A failing command is `success=False` with its stderr in `error`, not an exception.
    `learn=True` offers the run to skill learning; `include_trace=True` answers a
    `trace_ref` that `trace()` reads.
    """

    def __init__(self, client: "AsyncClient", sandbox_id: str) -> None:
        self._client = client
        self._id = sandbox_id

    async def exec(
        self,
        cmd: str,
        *,
        timeout: int = 30,
        description: str | None = None,
        tags: req.Tags | None = None,
        learn: bool = False,
        include_trace: bool = False,
    ) -> api.BrowserExecResult:
        """Run one command, without the `agent-browser` word (timeout 1-300 s)."""
        call = browser.run_browser(
            self._id,
            cmd,
            timeout=timeout,
            tags=tags,
            description=description,
            learn=learn,
            include_trace=include_trace,
        )
        return await self._client._call(call)

    async def exec_batch(
        self,
        commands: builtins.list[str],
        *,
        timeout: int = 60,
        stop_on_error: bool = True,
        description: str | None = None,
        tags: req.Tags | None = None,
        learn: bool = False,
        include_trace: bool = False,
    ) -> api.BrowserBatchResult:
        """Run commands in order as one execution, within `timeout` (1-600 s) for all of
        them; by default the first failing one stops the batch."""
        call = browser.run_browser_batch(
            self._id,
            commands,
            timeout=timeout,
            tags=tags,
            stop_on_error=stop_on_error,
            description=description,
            learn=learn,
            include_trace=include_trace,
        )
        return await self._client._call(call)

    async def run_skill(
        self,
        skill_key: str,
        *,
        timeout: int = 60,
        stop_on_error: bool = True,
        include_trace: bool = False,
        description: str | None = None,
        tags: req.Tags | None = None,
    ) -> api.SkillRunResult:
        """Replay the active release of `skill_key` (its payload's `commands`) as a batch;
        `NotFoundError` when no release is active. The run is tagged with the release, so
        it counts in the release's health."""
        call = browser.run_skill(
            self._id,
            skill_key,
            timeout=timeout,
            tags=tags,
            stop_on_error=stop_on_error,
            include_trace=include_trace,
            description=description,
        )
        return await self._client._call(call)

    async def trace(self, trace_ref: str) -> api.BrowserTrace:
        """The recorded steps behind a `trace_ref` (`blob:…`) of this sandbox's runs."""
        return await self._client._call(browser.get_trace(self._id, trace_ref))


class AsyncExecutions:
    """`sandbox.executions`: executions by id, while they run and after."""

    def __init__(self, client: "AsyncClient", sandbox_id: str) -> None:
        self._client = client
        self._id = sandbox_id

    async def status(self, execution_id: str) -> api.ExecutionStatus:
        """Whether it is running or finished, and how it ended (from history once the
        session is gone)."""
        return await self._client._call(req.execution_status(self._id, execution_id))

    def events(self, execution_id: str, *, after: int = 0) -> AsyncExecStream:
        """Its events with ids after `after`, live until `end` (see `AsyncExecStream`).

        Events live as long as the session that ran the execution; after that this raises
        `NotFoundError` (history still has the collected result).
        """
        call = req.execution_events(self._id, execution_id, after)
        return self._client._stream(call, self._id, execution_id, after)


class AsyncProcesses:
    """`sandbox.processes`: detached commands whose output goes to log files in the sandbox.

    They count as activity for idle reclaim and end with the session; the API answers
    `NotFoundError` for them after that.
    """

    def __init__(self, client: "AsyncClient", sandbox_id: str) -> None:
        self._client = client
        self._id = sandbox_id

    async def start(
        self, command: str, *, cwd: str | None = None, env: dict[str, str] | None = None
    ) -> ship.ProcessInfo:
        """Start `command` with bash, detached; answers at once with its `process_id`."""
        return await self._client._call(req.start_process(self._id, command, cwd, env))

    async def list(self) -> builtins.list[ship.ProcessInfo]:
        """The session's processes, running and exited."""
        return await self._client._call(req.list_processes(self._id))

    async def get(self, process_id: str) -> ship.ProcessInfo:
        """One process: state, pid, exit code."""
        return await self._client._call(req.get_process(self._id, process_id))

    async def logs(
        self,
        process_id: str,
        *,
        stream: req.LogStream = "stdout",
        offset: int = 0,
        limit: int | None = None,
    ) -> ship.ProcessLogs:
        """Output from byte `offset` (at most `limit` bytes); ask again from `next_offset`."""
        call = req.process_logs(self._id, process_id, stream, offset, limit)
        return await self._client._call(call)

    async def follow(
        self,
        process_id: str,
        *,
        stream: req.LogStream = "stdout",
        offset: int = 0,
        poll: float = 0.5,
    ) -> AsyncIterator[str]:
        """Yield the output as it grows, polling every `poll` seconds, until the process
        exited and all of it was read."""
        while True:
            logs = await self.logs(process_id, stream=stream, offset=offset)
            offset = logs.next_offset
            if logs.data:
                yield logs.data
            if logs.eof:
                return
            if not logs.data:
                await asyncio.sleep(poll)

    async def wait(self, process_id: str, *, timeout: float = 30) -> ship.ProcessInfo:
        """The process once it exited, or as it is after `timeout` seconds (at most 300)."""
        return await self._client._call(req.wait_process(self._id, process_id, timeout))

    async def signal(self, process_id: str, signal: str = "TERM") -> ship.ProcessInfo:
        """Send a signal (`TERM`, `INT`, `KILL`, `SIGHUP`, …) to the process's group."""
        return await self._client._call(req.signal_process(self._id, process_id, signal))

    async def kill(self, process_id: str) -> ship.ProcessInfo:
        """Kill the process with its group and forget it and its logs; answers its last state."""
        return await self._client._call(req.kill_process(self._id, process_id))
