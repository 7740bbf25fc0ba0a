"""The local driver's sandbox processes: what of the host they see, how they start and end."""

import asyncio
import contextlib
import logging
import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from bay.drivers.base import (
    DriverUnavailableError,
    InstanceStartError,
    SessionSpec,
    network_env,
)
from bay.drivers.inotify import readable
from bay.drivers.rootfs import WORKSPACE, Root

logger = logging.getLogger(__name__)

SANDBOX_UID = 1000
SHIP_RUN = "/run/ship"
SOCKET_NAME = "ship.sock"
# The session's memory cgroup's OOM-kill counter, bound read-only for Ship to tell an OOM kill
# of the kernel from any other death.
MEMORY_EVENTS_NAME = "memory-events"
LAUNCH_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
# Private, size-capped tmpfs mounts inside the sandbox (not host temp paths).
_SANDBOX_TMP, _SANDBOX_SHM = "/tmp", "/dev/shm"  # noqa: S108

ETC_FILES = {
    "passwd": (
        "root:x:0:0:root:/root:/usr/sbin/nologin\n"
        f"shipyard:x:{SANDBOX_UID}:{SANDBOX_UID}::{WORKSPACE}:/bin/bash\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    ),
    "group": f"root:x:0:\nshipyard:x:{SANDBOX_UID}:\nnogroup:x:65534:\n",
    "hosts": "127.0.0.1 localhost sandbox\n::1 localhost\n",
}


@dataclass(frozen=True)
class Tools:
    """Host binaries the driver runs; setpriv only when Bay is root and must drop to host_uid."""

    bwrap: str
    setsid: str
    setpriv: str | None
    namespaces: tuple[str, ...]


@dataclass(frozen=True)
class Session:
    """One sandbox's own paths and the fds bwrap inherits."""

    cargo: Path
    sock_dir: Path
    etc_dir: Path
    ready_fd: int
    info_fd: int
    seccomp_fd: int
    tmp_size_bytes: int
    memory_events: Path | None = None  # the memory cgroup's OOM-kill counter


def find_tools(bwrap: str, root: bool) -> Tools:
    found = shutil.which(bwrap)
    if found is None:
        raise DriverUnavailableError(
            f"bubblewrap ({bwrap}) not found: install it (apt-get install bubblewrap)"
        )
    setsid = shutil.which("setsid", path=LAUNCH_ENV["PATH"])
    setpriv = shutil.which("setpriv", path=LAUNCH_ENV["PATH"]) if root else None
    if setsid is None or (root and setpriv is None):
        raise DriverUnavailableError("setsid/setpriv not found: apt-get install util-linux")
    return Tools(found, setsid, setpriv, _namespace_options(found))


def _namespace_options(bwrap: str) -> tuple[str, ...]:
    # --disable-userns (bwrap >= 0.8) stops the sandbox from making nested user namespaces,
    # a large kernel surface; older bwrap still gives every other namespace.
    nested = ("--disable-userns",) if b"--disable-userns" in _run([bwrap, "--help"]).stdout else ()
    return ("--unshare-all", "--unshare-user", *nested)


def probe(tools: Tools, host_uid: int | None, root: Root, command: list[str]) -> None:
    """Fail early, in bwrap's or Python's own words, when no sandbox can start here."""
    sandbox = [tools.bwrap, *tools.namespaces, *root.base, "--proc", "/proc", "--dev", "/dev"]
    sandbox += root.binds
    done = _run([*drop(tools, host_uid), *sandbox, "--", *command])
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()
        raise DriverUnavailableError(f"cannot start a sandbox on this host: {message}")


def _run(argv: list[str]) -> "subprocess.CompletedProcess[bytes]":
    try:
        return subprocess.run(  # noqa: S603 - our own argv, no shell
            argv, capture_output=True, timeout=30, env=LAUNCH_ENV, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DriverUnavailableError(f"{argv[0]} could not be run: {exc}") from exc


def sandbox_args(tools: Tools, root: Root, session: Session, env: Mapping[str, str]) -> list[str]:
    """bwrap's options: the root first, then what mounts over it."""
    size = str(session.tmp_size_bytes)
    return [
        *tools.namespaces,
        *root.base,
        "--hostname",
        "sandbox",
        "--uid",
        str(SANDBOX_UID),
        "--gid",
        str(SANDBOX_UID),
        "--new-session",
        "--cap-drop",
        "ALL",
        *["--proc", "/proc", "--dev", "/dev", "--size", size, "--tmpfs", _SANDBOX_SHM],
        *["--remount-ro", "/dev", "--size", size, "--tmpfs", _SANDBOX_TMP],
        *root.binds,
        *_session_binds(session, root.own_etc),
        *["--info-fd", str(session.info_fd), "--seccomp", str(session.seccomp_fd)],
        *["--remount-ro", "/", "--chdir", WORKSPACE],
        "--clearenv",
        *[arg for key, value in env.items() for arg in ("--setenv", key, value)],
    ]


def sandbox_env(root: Root, spec: SessionSpec, session: Session) -> dict[str, str]:
    """The sandbox's whole environment: the root's, its network's, the profile's, then Ship's
    own."""
    env = {**root.env, **network_env(spec.egress), **spec.env}
    env["SHIP_WORKSPACE"] = WORKSPACE
    env["SHIP_SOCKET"] = f"{SHIP_RUN}/{SOCKET_NAME}"
    env["SHIP_READY_FD"] = str(session.ready_fd)
    env["SHIP_QUIET_AFTER_READY"] = "1"
    if session.memory_events is not None:
        env["SHIP_MEMORY_EVENTS"] = f"{SHIP_RUN}/{MEMORY_EVENTS_NAME}"
    return env


def args_file(args: list[str]) -> int:
    """An fd holding bwrap's options for `--args`, so host paths stay out of /proc/1/cmdline."""
    if any("\0" in arg for arg in args):
        # NUL separates the options in the file: one inside a value would smuggle in options.
        raise InstanceStartError("a sandbox option (profile env?) contains a NUL character")
    return memory_file("bwrap-args", b"".join(os.fsencode(arg) + b"\0" for arg in args))


def memory_file(name: str, data: bytes) -> int:
    """An fd to read `data` from, for bwrap's `--args` and `--seccomp`; closed on exec."""
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    while data:
        data = data[os.write(fd, data) :]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def launcher(
    tools: Tools, host_uid: int | None, procs: list[Path], args_fd: int, command: list[str]
) -> list[str]:
    """Join the session's cgroups before any sandbox code runs, then detach from Bay.

    The shell writes its own pid while still root; `setsid --fork` leaves the sandbox an
    orphan, so it outlives Bay and never becomes Bay's zombie.
    """
    joins = "".join(f"echo $$ > {shlex.quote(str(p))} || exit 1\n" for p in procs)
    sandbox = [tools.bwrap, "--args", str(args_fd), "--", *command]
    detach = [tools.setsid, "--fork", *drop(tools, host_uid)]
    return ["/bin/sh", "-c", joins + 'exec "$@"', "sh", *detach, *sandbox]


class StartLog:
    """The sandbox's stdout and stderr: a pipe Bay reads while Ship starts, keeping the last
    `limit` bytes, then closes. Pid 1 of the sandbox (bwrap, which its code could reopen
    through /proc/1/fd) so holds no file of the host, and writing there cannot fill a disk.
    """

    def __init__(self, limit: int = 16384) -> None:
        self.read_fd, self.write_fd = os.pipe2(os.O_CLOEXEC)
        self._limit = limit
        self._tail = bytearray()
        self._reader = asyncio.create_task(self._drain())

    async def stop(self, grace: float = 0.0) -> None:
        """Stop reading and close the pipe; first wait up to `grace` seconds for the writers
        to go (what a failed start still says)."""
        self.close_writer()
        if grace > 0:
            await asyncio.wait([self._reader], timeout=grace)
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)
        os.close(self.read_fd)

    def text(self) -> str:
        return self._tail.decode(errors="replace").strip() or "(no output)"

    def close_writer(self) -> None:
        """Bay's copy of the write end, once the launcher has its own."""
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1

    async def _drain(self) -> None:
        while True:
            await readable(self.read_fd)
            chunk = os.read(self.read_fd, 65536)
            if not chunk:
                return
            self._tail += chunk
            del self._tail[: -self._limit]


async def launch(argv: list[str], log_fd: int, fds: tuple[int, ...]) -> int:
    """Run the launcher to its quick exit; the sandbox it forks keeps running detached."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=subprocess.DEVNULL,
        stdout=log_fd,
        stderr=subprocess.STDOUT,
        pass_fds=fds,
        env=LAUNCH_ENV,
        cwd="/",  # Bay's own cwd (the checkout, often) would show in /proc/1/environ as PWD
        start_new_session=True,
    )
    return await process.wait()


def drop(tools: Tools, host_uid: int | None) -> list[str]:
    """The command prefix that runs what follows as `host_uid` (nothing when not root)."""
    if host_uid is None or tools.setpriv is None:
        return []
    ids = [f"--reuid={host_uid}", f"--regid={host_uid}", "--clear-groups"]
    return [tools.setpriv, *ids, "--inh-caps=-all", "--bounding-set=-all"]


def _session_binds(session: Session, own_etc: bool) -> list[str]:
    args = ["--bind", str(session.cargo), WORKSPACE, "--bind", str(session.sock_dir), SHIP_RUN]
    if session.memory_events is not None:
        args += ["--ro-bind", str(session.memory_events), f"{SHIP_RUN}/{MEMORY_EVENTS_NAME}"]
    for name in ETC_FILES if own_etc else ():
        args += ["--ro-bind", str(session.etc_dir / name), f"/etc/{name}"]
    return args


class Proc(NamedTuple):
    state: str
    ppid: int
    start: int


def proc_stat(pid: int) -> Proc | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parens; the fields after the last ')' are fixed.
    fields = text[text.rindex(")") + 2 :].split()
    return Proc(fields[0], int(fields[1]), int(fields[19]))


def alive(pid: int, start: int) -> bool:
    """Running, not a zombie, and the same process as recorded (pids get reused)."""
    proc = proc_stat(pid)
    return proc is not None and proc.state not in "ZX" and proc.start == start


def kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def boot_ticks() -> int:
    """Now, in the unit of /proc/<pid>/stat start times: clock ticks since boot."""
    return int(time.clock_gettime(time.CLOCK_BOOTTIME) * os.sysconf("SC_CLK_TCK"))


async def wait_ready(fd: int, timeout: float) -> bool:
    """True once Ship wrote `ready`; False on EOF (Ship died first) or timeout."""
    received = b""
    try:
        async with asyncio.timeout(timeout):
            while b"\n" not in received:
                await readable(fd)
                chunk = os.read(fd, 64)
                if not chunk:
                    return False
                received += chunk
    except TimeoutError:
        return False
    return received.startswith(b"ready")


async def wait_gone(pids: list[int], timeout: float = 5.0) -> None:
    """Wait for processes that need not be our children to exit: their pidfd turns readable."""
    for pid in pids:
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        try:
            async with asyncio.timeout(timeout):
                await readable(pidfd)
        except TimeoutError:
            logger.warning("pid %s survived SIGKILL for %ss", pid, timeout)
        finally:
            os.close(pidfd)
