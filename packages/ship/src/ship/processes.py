"""Background processes: `bash -lc` detached in its own group, its output in private log files."""

import asyncio
import codecs
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ship.errors import InvalidSignalError, NotFoundError, spawn_errors
from shipyard_protocol.ship import ProcessInfo, ProcessList, ProcessLogs

Stream = Literal["stdout", "stderr"]
_KILL_WAIT = 5.0


@dataclass
class _Process:
    process_id: str
    command: str
    child: asyncio.subprocess.Process
    logs: dict[str, Path]
    started_at: float
    ended_at: float | None = None
    reaper: asyncio.Task[None] | None = None

    @property
    def exited(self) -> bool:
        return self.ended_at is not None

    def info(self) -> ProcessInfo:
        return ProcessInfo(
            process_id=self.process_id,
            pid=self.child.pid,
            command=self.command,
            state="exited" if self.exited else "running",
            exit_code=self.child.returncode if self.exited else None,
            started_at=self.started_at,
            ended_at=self.ended_at,
        )


class Processes:
    """The session's background processes; their logs live outside the workspace, under /tmp.

    `exit_code` is negative (minus the signal number) for a process killed by a signal.
    """

    def __init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="ship-processes-"))
        self._items: dict[str, _Process] = {}

    async def start(self, command: str, cwd: Path, env: dict[str, str]) -> ProcessInfo:
        process_id = f"proc-{secrets.token_hex(6)}"
        logs = {stream: self._dir / f"{process_id}.{stream}" for stream in ("stdout", "stderr")}
        # Files, not pipes: nothing has to read them for the process to keep running.
        with logs["stdout"].open("wb") as out, logs["stderr"].open("wb") as err, spawn_errors():
            child = await asyncio.create_subprocess_exec(
                *("bash", "-lc", command),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=cwd,
                env={**os.environ, **env},
                start_new_session=True,
            )
        process = _Process(process_id, command, child, logs, time.time())
        process.reaper = asyncio.create_task(_reap(process))
        self._items[process_id] = process
        return process.info()

    def listing(self) -> ProcessList:
        return ProcessList(processes=[process.info() for process in self._items.values()])

    def get(self, process_id: str) -> ProcessInfo:
        return self._find(process_id).info()

    def running(self) -> int:
        return sum(not process.exited for process in self._items.values())

    def logs(self, process_id: str, stream: Stream, offset: int, limit: int) -> ProcessLogs:
        """Up to `limit` bytes from `offset`; a character cut at the end is left for next time."""
        process = self._find(process_id)
        exited = process.exited  # looked at first, so `eof` never hides output written since
        with process.logs[stream].open("rb") as file:
            file.seek(offset)
            data = file.read(limit)
            size = os.fstat(file.fileno()).st_size
        ends = exited and offset + len(data) >= size
        text, used = _decode(data, final=ends)
        next_offset = offset + used
        eof = exited and next_offset >= size
        return ProcessLogs(
            stream=stream, offset=offset, next_offset=next_offset, data=text, eof=eof
        )

    async def wait(self, process_id: str, timeout: float) -> ProcessInfo:
        process = self._find(process_id)
        if process.reaper is not None:
            await asyncio.wait({process.reaper}, timeout=timeout)
        return process.info()

    def signal(self, process_id: str, name: str) -> ProcessInfo:
        """Send the signal to the process's whole group (children included)."""
        process = self._find(process_id)
        _signal_group(process.child.pid, _parse_signal(name))
        return process.info()

    async def delete(self, process_id: str) -> ProcessInfo:
        """Kill the group, wait for the exit, forget the process and remove its logs."""
        process = self._find(process_id)
        _signal_group(process.child.pid, signal.SIGKILL)
        if process.reaper is not None:
            await asyncio.wait({process.reaper}, timeout=_KILL_WAIT)
        del self._items[process_id]
        for path in process.logs.values():
            path.unlink(missing_ok=True)
        return process.info()

    async def shutdown(self) -> None:
        for process in self._items.values():
            _signal_group(process.child.pid, signal.SIGKILL)
        reapers = {process.reaper for process in self._items.values() if process.reaper}
        if reapers:
            await asyncio.wait(reapers, timeout=_KILL_WAIT)
        self._items.clear()
        shutil.rmtree(self._dir, ignore_errors=True)

    def _find(self, process_id: str) -> _Process:
        try:
            return self._items[process_id]
        except KeyError:
            details = {"process_id": process_id}
            raise NotFoundError(f"no process {process_id}", details) from None


async def _reap(process: _Process) -> None:
    await process.child.wait()
    process.ended_at = time.time()


def _decode(data: bytes, final: bool) -> tuple[str, int]:
    """The text of `data` and how many of its bytes it used (an incomplete last character not)."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    text = decoder.decode(data, final=final)
    pending, _ = decoder.getstate()
    return text, len(data) - len(pending)


def _parse_signal(name: str) -> signal.Signals:
    key = name if name.startswith("SIG") else f"SIG{name}"
    try:
        return signal.Signals[key]
    except KeyError:
        raise InvalidSignalError(f"unknown signal {name}", {"signal": name}) from None


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # The group outlives its leader while children remain, so it is signalled even after exit.
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
