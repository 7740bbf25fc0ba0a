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

from bay.drivers.base import DriverUnavailableError, InstanceStartError
from bay.drivers.inotify import readable

logger = logging.getLogger(__name__)

SANDBOX_UID = 1000
WORKSPACE = "/workspace"
SHIP_RUN = "/run/ship"
SOCKET_NAME = "ship.sock"
LAUNCH_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
# Private, size-capped tmpfs mounts inside the sandbox (not host temp paths).
_SANDBOX_TMP, _SANDBOX_SHM = "/tmp", "/dev/shm"  # noqa: S108

# Merged-/usr hosts have these as symlinks into usr/; older hosts have real directories.
_TOP_LEVEL = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
# Only what Python, bash and TLS read; the rest of /etc (shadow, ssh, cron ...) stays hidden.
_ETC = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "timezone",
    "nsswitch.conf",
    "host.conf",
    "gai.conf",
    "ssl/certs",
    "ssl/openssl.cnf",
    "alternatives",
    "bash.bashrc",
    "profile",
    "profile.d",
    "inputrc",
    "mime.types",
    "locale.alias",
    "terminfo",
)
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


def probe(tools: Tools, host_uid: int | None, host: list[str], command: list[str]) -> None:
    """Fail early, in bwrap's or Python's own words, when no sandbox can start here."""
    sandbox = [tools.bwrap, *tools.namespaces, "--proc", "/proc", "--dev", "/dev", *host]
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


def host_args(venv: Path, private: Path) -> list[str]:
    """The read-only view of the host that every sandbox shares; `private` (Bay's data dir)
    must stay out of it."""
    if not (venv / "pyvenv.cfg").is_file():
        raise DriverUnavailableError(
            f"no Ship venv at {venv}: set driver.local.ship_venv (`make sync` builds .venv-ship)"
        )
    args = usr_args() + _etc_args()
    for path in venv_paths(venv, private):
        args += ["--ro-bind", str(path), str(path)]
    return args


def usr_args() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for name in _TOP_LEVEL:
        args += _mirror(Path("/", name))
    return args


def venv_paths(venv: Path, private: Path) -> list[Path]:
    """Ship's venv plus what it needs outside /usr: the base interpreter and editable sources.

    A venv made from an interpreter in /bin (pyvenv.cfg `home = /bin`) would need `/` itself;
    one inside a broad directory could show Bay's database and keys. Both are refused.
    """
    unique: list[Path] = []
    for path in [venv, *_base_prefix(venv), *_pth_dirs(venv)]:
        if path == Path("/") or private.is_relative_to(path):
            raise DriverUnavailableError(
                f"Ship's venv {venv} needs {path} in every sandbox, which would show "
                f"{'the whole host' if path == Path('/') else f'Bay data dir {private}'}; "
                "make the venv from an interpreter under /usr or its own prefix"
            )
        if not any(path.is_relative_to(seen) for seen in [Path("/usr"), *unique]):
            unique.append(path)
    return unique


def sandbox_args(
    tools: Tools, host: list[str], session: Session, env: Mapping[str, str]
) -> list[str]:
    """bwrap's options; --tmpfs /tmp precedes the host binds so a venv under /tmp still shows."""
    size = str(session.tmp_size_bytes)
    return [
        *tools.namespaces,
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
        *host,
        *_session_binds(session),
        *["--info-fd", str(session.info_fd), "--seccomp", str(session.seccomp_fd)],
        *["--remount-ro", "/", "--chdir", WORKSPACE],
        "--clearenv",
        *[arg for key, value in env.items() for arg in ("--setenv", key, value)],
    ]


def sandbox_env(profile_env: Mapping[str, str], ready_fd: int) -> dict[str, str]:
    """The sandbox's whole environment; Ship's own variables win over the profile's."""
    env = {
        "HOME": WORKSPACE,
        "USER": "shipyard",
        "LOGNAME": "shipyard",
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        **profile_env,
    }
    env["SHIP_WORKSPACE"] = WORKSPACE
    env["SHIP_SOCKET"] = f"{SHIP_RUN}/{SOCKET_NAME}"
    env["SHIP_READY_FD"] = str(ready_fd)
    env["SHIP_QUIET_AFTER_READY"] = "1"
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
        start_new_session=True,
    )
    return await process.wait()


def drop(tools: Tools, host_uid: int | None) -> list[str]:
    """The command prefix that runs what follows as `host_uid` (nothing when not root)."""
    if host_uid is None or tools.setpriv is None:
        return []
    ids = [f"--reuid={host_uid}", f"--regid={host_uid}", "--clear-groups"]
    return [tools.setpriv, *ids, "--inh-caps=-all", "--bounding-set=-all"]


def _session_binds(session: Session) -> list[str]:
    args = ["--bind", str(session.cargo), WORKSPACE, "--bind", str(session.sock_dir), SHIP_RUN]
    for name in ETC_FILES:
        args += ["--ro-bind", str(session.etc_dir / name), f"/etc/{name}"]
    return args


def _etc_args() -> list[str]:
    args: list[str] = []
    for path in [Path("/etc", name) for name in _ETC] + sorted(Path("/etc").glob("python3*")):
        args += _mirror(path)
    return args


def _mirror(path: Path) -> list[str]:
    """Show a host path as itself: symlinks stay symlinks, the rest is bound read-only."""
    if path.is_symlink():
        return ["--symlink", os.readlink(path), str(path)]
    if path.exists():
        return ["--ro-bind", str(path), str(path)]
    return []


def _base_prefix(venv: Path) -> list[Path]:
    for line in (venv / "pyvenv.cfg").read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home":
            return [Path(value.strip()).parent]
    return []


def _pth_dirs(venv: Path) -> list[Path]:
    """Absolute directories named by .pth files (uv's editable installs of workspace members)."""
    dirs = []
    for pth in sorted(venv.glob("lib/python3*/site-packages/*.pth")):
        for line in pth.read_text().splitlines():
            entry = Path(line.strip())
            if entry.is_absolute() and entry.is_dir():
                dirs.append(entry)
    return dirs


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
