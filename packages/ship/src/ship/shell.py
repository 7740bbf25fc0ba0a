"""Shell commands: `bash -lc` in its own process group, captured with caps, killed on timeout."""

import asyncio
import os
import signal
import subprocess
from pathlib import Path

from ship.output import OutputBuffer
from shipyard_protocol.ship import ShellOutcome


class _Capture(asyncio.SubprocessProtocol):
    """Feeds the child's stdout and stderr into capped buffers and notes exit and EOF."""

    def __init__(self, limit: int) -> None:
        loop = asyncio.get_running_loop()
        self.buffers = {1: OutputBuffer(limit), 2: OutputBuffer(limit)}
        self.exited: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self._open = {1, 2}

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        self.buffers[fd].write(data)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        self._open.discard(fd)
        if not self._open and not self.closed.done():
            self.closed.set_result(None)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)


class Shell:
    """Runs commands for the session and kills whatever is still running at shutdown."""

    def __init__(self, output_limit: int, pipe_grace: float = 0.2) -> None:
        self._output_limit = output_limit
        self._pipe_grace = pipe_grace
        self._groups: set[int] = set()

    async def run(
        self, command: str, cwd: Path, env: dict[str, str], time_limit: float
    ) -> ShellOutcome:
        """Run `command`; exit_code is -1 when it was killed for running past `time_limit`."""
        transport, capture = await self._spawn(command, cwd, env)
        pid = transport.get_pid()
        self._groups.add(pid)
        try:
            timed_out = not await _settle(capture.exited, time_limit)
            if timed_out:
                _kill_group(pid)
            await self._drain(pid, capture)
            await _settle(capture.exited, 1.0)
            code = transport.get_returncode()
        finally:
            if not capture.exited.done():
                _kill_group(pid)
            self._groups.discard(pid)
            transport.close()
        return _outcome(capture, -1 if timed_out or code is None else code, timed_out)

    def shutdown(self) -> None:
        for pid in list(self._groups):
            _kill_group(pid)

    async def _spawn(
        self, command: str, cwd: Path, env: dict[str, str]
    ) -> tuple[asyncio.SubprocessTransport, _Capture]:
        loop = asyncio.get_running_loop()
        return await loop.subprocess_exec(
            lambda: _Capture(self._output_limit),
            "bash",
            "-lc",
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env={**os.environ, **env},
            start_new_session=True,
        )

    async def _drain(self, pid: int, capture: _Capture) -> None:
        """Wait for EOF; background children still holding the pipes are killed."""
        if await _settle(capture.closed, self._pipe_grace):
            return
        _kill_group(pid)
        await _settle(capture.closed, 1.0)


async def _settle(future: asyncio.Future[None], seconds: float) -> bool:
    """Whether `future` completed within `seconds`; the future itself is never cancelled."""
    done, _ = await asyncio.wait({future}, timeout=seconds)
    return bool(done)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return


def _outcome(capture: _Capture, exit_code: int, timed_out: bool) -> ShellOutcome:
    out, err = capture.buffers[1], capture.buffers[2]
    return ShellOutcome(
        exit_code=exit_code,
        stdout=out.render(),
        stderr=err.render(),
        timed_out=timed_out,
        truncated=out.truncated or err.truncated,
    )
