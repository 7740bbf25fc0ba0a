# generated from _async_execs.py by scripts/unasync.py; do not edit
"""`sandbox.python`, `sandbox.shell`, `sandbox.browser`, `sandbox.executions` and
`sandbox.processes` (sync)."""

import builtins
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from shipyard import _browser_calls as browser
from shipyard import _endpoints as req
from shipyard._sync_stream import ExecStream
from shipyard_protocol import api, ship

if TYPE_CHECKING:
    from shipyard._sync import Client


class Python:
    """`sandbox.python`: the sandbox's IPython kernel."""

    def __init__(self, client: "Client", sandbox_id: str) -> None:
        self._client = client
        self._id = sandbox_id

    def run(
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
        return self._client._call(call)

    def stream(
        self,
        code: str,
        *,
        timeout: int = 30,
        include_code: bool = False,
        description: str | None = None,
        tags: req.Tags | None = None,
    ) -> ExecStream:
        """Run code and iterate its events as they happen (see `ExecStream`).

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

    def interrupt(self) -> api.KernelControl:
        """Interrupt the running code (KeyboardInterrupt in the kernel); variables stay."""
        return self._client._call(req.interrupt_kernel(self._id))

    def restart(self) -> api.KernelControl:
        """Restart the kernel: every variable is lost, the next result says `kernel_restarted`."""
        return self._client._call(req.restart_kernel(self._id))


class Shell:
    """`sandbox.shell`: one-shot shell commands in `/workspace`."""

    def __init__(self, client: "Client", sandbox_id: str) -> None:
        self._client = client
        self._id = sandbox_id

    def run(
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
        return self._client._call(call)

    def stream(
        self,
        command: str,
        *,
        timeout: int = 30,
        cwd: str | None = None,
        include_code: bool = False,
        description: str | None = None,
        tags: req.Tags | None = None,
    ) -> ExecStream:
        """Run `command` and iterate its stdout and stderr as they come (see `ExecStream`).

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


class Browser:
    """`sandbox.browser`: agent-browser commands (`open URL`, `snapshot -i`, `click @e2`, …)
    in the sandbox's headless Chromium; the page and its cookies stay between calls.

    A failing command is `success=False` with its stderr in `error`, not an exception.
    `learn=True` offers the run to skill learning; `include_trace=True` answers a
    `trace_ref` that `trace()` reads.
    """

    def __init__(self, client: "Client", sandbox_id: str) -> None:
        self._client = client
        self._id = sandbox_id

    def exec(
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
        return self._client._call(call)

    def exec_batch(
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
        return self._client._call(call)

    def run_skill(
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
        return self._client._call(call)

    def trace(self, trace_ref: str) -> api.BrowserTrace:
        """The recorded steps behind a `trace_ref` (`blob:…`) of this sandbox's runs."""
        return self._client._call(browser.get_trace(self._id, trace_ref))


class Executions:
    """`sandbox.executions`: executions by id, while they run and after."""

    def __init__(self, client: "Client", sandbox_id: str) -> None:
        self._client = client
        self._id = sandbox_id

    def status(self, execution_id: str) -> api.ExecutionStatus:
        """Whether it is running or finished, and how it ended (from history once the
        session is gone)."""
        return self._client._call(req.execution_status(self._id, execution_id))

    def events(self, execution_id: str, *, after: int = 0) -> ExecStream:
        """Its events with ids after `after`, live until `end` (see `ExecStream`).

        Events live as long as the session that ran the execution; after that this raises
        `NotFoundError` (history still has the collected result).
        """
        call = req.execution_events(self._id, execution_id, after)
        return self._client._stream(call, self._id, execution_id, after)


class Processes:
    """`sandbox.processes`: detached commands whose output goes to log files in the sandbox.

    They count as activity for idle reclaim and end with the session; the API answers
    `NotFoundError` for them after that.
    """

    def __init__(self, client: "Client", sandbox_id: str) -> None:
        self._client = client
        self._id = sandbox_id

    def start(
        self, command: str, *, cwd: str | None = None, env: dict[str, str] | None = None
    ) -> ship.ProcessInfo:
        """Start `command` with bash, detached; answers at once with its `process_id`."""
        return self._client._call(req.start_process(self._id, command, cwd, env))

    def list(self) -> builtins.list[ship.ProcessInfo]:
        """The session's processes, running and exited."""
        return self._client._call(req.list_processes(self._id))

    def get(self, process_id: str) -> ship.ProcessInfo:
        """One process: state, pid, exit code."""
        return self._client._call(req.get_process(self._id, process_id))

    def logs(
        self,
        process_id: str,
        *,
        stream: req.LogStream = "stdout",
        offset: int = 0,
        limit: int | None = None,
    ) -> ship.ProcessLogs:
        """Output from byte `offset` (at most `limit` bytes); ask again from `next_offset`."""
        call = req.process_logs(self._id, process_id, stream, offset, limit)
        return self._client._call(call)

    def follow(
        self,
        process_id: str,
        *,
        stream: req.LogStream = "stdout",
        offset: int = 0,
        poll: float = 0.5,
    ) -> Iterator[str]:
        """Yield the output as it grows, polling every `poll` seconds, until the process
        exited and all of it was read."""
        while True:
            logs = self.logs(process_id, stream=stream, offset=offset)
            offset = logs.next_offset
            if logs.data:
                yield logs.data
            if logs.eof:
                return
            if not logs.data:
                time.sleep(poll)

    def wait(self, process_id: str, *, timeout: float = 30) -> ship.ProcessInfo:
        """The process once it exited, or as it is after `timeout` seconds (at most 300)."""
        return self._client._call(req.wait_process(self._id, process_id, timeout))

    def signal(self, process_id: str, signal: str = "TERM") -> ship.ProcessInfo:
        """Send a signal (`TERM`, `INT`, `KILL`, `SIGHUP`, …) to the process's group."""
        return self._client._call(req.signal_process(self._id, process_id, signal))

    def kill(self, process_id: str) -> ship.ProcessInfo:
        """Kill the process with its group and forget it and its logs; answers its last state."""
        return self._client._call(req.kill_process(self._id, process_id))
