"""Shell commands: `bash -lc` in its own process group, streamed and captured, killed on timeout."""

import asyncio
import codecs
import os
import signal
import subprocess
from contextlib import suppress
from pathlib import Path
from typing import cast

from ship.errors import spawn_errors
from ship.events import EventLog
from ship.output import OutputBuffer
from shipyard_protocol.ship import OutputEvent, ShellOutcome

_STREAMS = {1: "stdout", 2: "stderr"}
_KILL_ROUNDS = 100


class _Capture(asyncio.SubprocessProtocol):
    """Feeds the child's output into the event log and capped buffers; notes exit and EOF.

    While a follower of the log lags too far, reading the pipes pauses, so the child blocks
    on a full pipe instead of Ship buffering without bound.
    """

    def __init__(self, limit: int, log: EventLog) -> None:
        loop = asyncio.get_running_loop()
        self.buffers = {fd: OutputBuffer(limit) for fd in _STREAMS}
        # One decoder per stream, so a character split across reads is decoded whole.
        self._decoders = {fd: codecs.getincrementaldecoder("utf-8")("replace") for fd in _STREAMS}
        self._log = log
        self._transport: asyncio.SubprocessTransport | None = None
        self._resumer: asyncio.Task[None] | None = None
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.exited: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self._open = set(_STREAMS)
        # How the child's stdout and stderr read in /proc/<pid>/fd: whoever holds them is
        # part of the command, whatever group or session it moved to.
        self.pipes: set[str] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.SubprocessTransport, transport)
        for fd in _STREAMS:
            pipe = self._transport.get_pipe_transport(fd)
            if pipe is not None:
                self.pipes.add(f"pipe:[{os.fstat(pipe.get_extra_info('pipe').fileno()).st_ino}]")

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        self.buffers[fd].write(data)
        self._emit(fd, self._decoders[fd].decode(data))
        if self._log.full and self.flowing.is_set():
            self._pause()

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        self._emit(fd, self._decoders[fd].decode(b"", final=True))
        self._open.discard(fd)
        if not self._open and not self.closed.done():
            self.closed.set_result(None)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    def stop(self) -> None:
        if self._resumer is not None:
            self._resumer.cancel()

    def _emit(self, fd: int, text: str) -> None:
        if text:
            self._log.append(OutputEvent, kind=_STREAMS[fd], text=text)

    def _pause(self) -> None:
        self.flowing.clear()
        self._set_reading(False)
        self._resumer = asyncio.create_task(self._resume_when_room())

    async def _resume_when_room(self) -> None:
        await self._log.wait_room()
        self._set_reading(True)
        self.flowing.set()

    def _set_reading(self, reading: bool) -> None:
        if self._transport is None:
            return
        for fd in _STREAMS:
            pipe = cast(asyncio.ReadTransport | None, self._transport.get_pipe_transport(fd))
            if pipe is None or pipe.is_closing():
                continue
            if reading:
                pipe.resume_reading()
            else:
                pipe.pause_reading()


class Shell:
    """Runs commands for the session and kills whatever is still running at shutdown."""

    def __init__(self, output_limit: int, pipe_grace: float = 0.2) -> None:
        self._output_limit = output_limit
        self._pipe_grace = pipe_grace
        self._groups: set[int] = set()

    async def run(
        self, command: str, cwd: Path, env: dict[str, str], time_limit: float, log: EventLog
    ) -> ShellOutcome:
        """Run `command`; exit_code is -1 when it was killed for running past `time_limit`."""
        return await self.run_argv(["bash", "-lc", command], cwd, env, time_limit, log)

    async def run_argv(
        self, argv: list[str], cwd: Path, env: dict[str, str], time_limit: float, log: EventLog
    ) -> ShellOutcome:
        """Run `argv` (no shell) by the same rules as `run`."""
        transport, capture = await self._spawn(argv, cwd, env, log)
        pid = transport.get_pid()
        self._groups.add(pid)
        try:
            timed_out = not await _settle(capture.exited, time_limit)
            if timed_out:
                _kill_command(pid, capture.pipes)
            await self._drain(pid, capture)
            await _settle(capture.exited, 1.0)
            code = transport.get_returncode()
        finally:
            if not capture.exited.done():
                _kill_command(pid, capture.pipes)
            self._groups.discard(pid)
            capture.stop()
            transport.close()
        return _outcome(capture, -1 if timed_out or code is None else code, timed_out)

    def shutdown(self) -> None:
        for pid in list(self._groups):
            _kill_group(pid)

    async def _spawn(
        self, argv: list[str], cwd: Path, env: dict[str, str], log: EventLog
    ) -> tuple[asyncio.SubprocessTransport, _Capture]:
        loop = asyncio.get_running_loop()
        with spawn_errors():
            return await loop.subprocess_exec(
                lambda: _Capture(self._output_limit, log),
                *argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=cwd,
                env={**os.environ, **env},
                start_new_session=True,
            )

    async def _drain(self, pid: int, capture: _Capture) -> None:
        """Wait for EOF; background children still holding the pipes are killed.

        Time spent held back by a lagging follower does not count against the grace period.
        """
        while True:
            await capture.flowing.wait()
            if await _settle(capture.closed, self._pipe_grace):
                return
            if capture.flowing.is_set():
                break
        _kill_command(pid, capture.pipes)
        while True:
            await capture.flowing.wait()
            if await _settle(capture.closed, 1.0) or capture.flowing.is_set():
                return


async def _settle(future: asyncio.Future[None], seconds: float) -> bool:
    """Whether `future` completed within `seconds`; the future itself is never cancelled."""
    done, _ = await asyncio.wait({future}, timeout=seconds)
    return bool(done)


def _kill_command(pid: int, pipes: set[str]) -> None:
    """Kill the command's group and every process still holding its pipes: children that
    left the group (`timeout`, `setsid`, a fork bomb's) would otherwise outlive it."""
    _kill_group(pid)
    for _ in range(_KILL_ROUNDS):  # each round also finds what forked during the last one
        holders = _holders(pipes)
        if not holders:
            return
        for holder in holders:
            with suppress(ProcessLookupError, PermissionError):
                os.kill(holder, signal.SIGKILL)


def _holders(pipes: set[str]) -> list[int]:
    """Processes other than Ship with one of `pipes` open (those Ship may look into: all of
    the sandbox's, which run as its user)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        with suppress(OSError):  # gone meanwhile, or not ours to look at
            fds = f"/proc/{name}/fd"
            if any(os.readlink(f"{fds}/{fd}") in pipes for fd in os.listdir(fds)):
                found.append(int(name))
    return found


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
