"""Starting a sandbox's proxy from a driver: the sandbox's first process is given as pid
and start time, so a recycled pid is never taken for it."""

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bay.egress import netns
from shipyard_protocol.api import NetworkPolicy

READY_TIMEOUT_S = 20.0


class EgressError(Exception):
    """The proxy could not start; the message says why."""


@dataclass(frozen=True)
class Egress:
    """What a session's network is: its policy and its profile's bandwidth cap."""

    policy: NetworkPolicy
    bandwidth_mbit: float | None = None

    @property
    def offline(self) -> bool:
        return self.policy.egress == "none"


@dataclass(frozen=True)
class Files:
    """Where the proxy keeps its counters and its log; Bay's own, never the sandbox's."""

    stats: Path
    log: Path


async def start(
    egress: Egress,
    pid: int,
    alive: Callable[[], bool],
    files: Files,
    namespace: str | None,
) -> None:
    """Wall the network namespace of `pid` and start its proxy; returns once it serves.
    `alive` says whether `pid` is still the sandbox's (checked once its pidfd is held)."""
    if os.geteuid() != 0:
        raise EgressError("a network policy other than `none` needs Bay to run as root")
    try:
        pidfd = os.pidfd_open(pid)
        netns = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise EgressError(f"the sandbox's first process {pid} is gone: {exc}") from exc
    try:
        if not alive():
            raise EgressError(f"the sandbox's first process {pid} is gone")
        await _run(egress, (netns, pidfd), files, namespace)
    finally:
        os.close(pidfd)
        os.close(netns)


async def wall_offline(pid: int) -> None:
    """Close every way out of the network namespace of `pid` (a sandbox without network
    that has an interface for Bay to reach it by)."""
    if os.geteuid() != 0:
        raise EgressError("walling a sandbox's network needs Bay to run as root")
    argv = [sys.executable, "-I", "-c", _OFFLINE]
    process = await asyncio.create_subprocess_exec(
        _tool("nsenter"), f"--net=/proc/{pid}/ns/net", "--", *argv,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    _, err = await process.communicate()
    if process.returncode != 0:
        raise EgressError(f"could not wall the sandbox's network: {err.decode().strip()}")


_OFFLINE = "from bay.egress import netns; netns.wall_offline()"


async def _run(egress: Egress, fds: tuple[int, int], files: Files, namespace: str | None) -> None:
    netns, pidfd = fds
    argv = [
        sys.executable, "-I", "-m", "bay.egress",
        "--netns-fd", str(netns), "--pidfd", str(pidfd),
        "--policy", egress.policy.model_dump_json(), "--stats", str(files.stats),
    ]  # fmt: skip
    if egress.bandwidth_mbit:
        argv += ["--bandwidth-mbit", str(egress.bandwidth_mbit)]
    if namespace:
        argv = [_tool("ip"), "netns", "exec", namespace, *argv]
    for fd in fds:
        os.set_inheritable(fd, True)
    log_fd = os.open(files.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log_fd,
            pass_fds=fds,
            start_new_session=True,
        )
    finally:
        os.close(log_fd)
    await _ready(process, files.log)


async def _ready(process: asyncio.subprocess.Process, log: Path) -> None:
    """The proxy forks and its parent exits at once; the child says `ready` on the pipe."""
    assert process.stdout is not None  # noqa: S101 - asked for above
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            line = await process.stdout.readline()
            await process.wait()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        line = b""
    if line.strip() != b"ready":
        raise EgressError(f"the egress proxy did not start: {_tail(log)}")


def _tool(name: str) -> str:
    try:
        return netns.tool(name)
    except OSError as exc:
        raise EgressError(str(exc)) from exc


def _tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-2000:].strip() or "(no output)"
    except OSError as exc:
        return f"(no log: {exc})"
