"""What of the host a sandbox's pid 1 holds: nothing its code can reopen and write."""

import json
import os
from pathlib import Path

import pytest

from bay.config import DockerDriverSettings, LocalDriverSettings
from bay.drivers.base import Instance
from tests.bay_process import REPO, sandbox_rootfs
from tests.engines import docker_inspect, py

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(300)]

# Reopen every fd of pid 1 through /proc (the magic links ignore the mount namespace) and
# try to write 20 MiB into it; report what each one is.
REOPEN_PID1 = """
import os, stat
found = []
for name in sorted(os.listdir("/proc/1/fd")):
    path = f"/proc/1/fd/{name}"
    try:
        target = os.readlink(path)
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        found.append(f"{name}:closed:{exc.errno}")
        continue
    kind = "file" if stat.S_ISREG(os.fstat(fd).st_mode) else "other"
    written = 0
    try:
        for _ in range(20):
            written += os.write(fd, b"x" * (1 << 20))
    except OSError:
        pass
    os.close(fd)
    found.append(f"{name}:{kind}:{target}:{written}")
print(" ".join(found))
"""


def host_pid1(variant: str, data_dir: Path, ref: str) -> int:
    """The sandbox's pid 1 as the host sees it."""
    if variant == "local":
        return int(json.loads((data_dir / "run" / ref / "session.json").read_text())["child_pid"])
    return int(docker_inspect(ref)["State"]["Pid"])


# Not under gVisor: its pid 1 lives in gVisor's own kernel, and the host process is the
# sentry; the attempt from inside (next test) runs there too.
@pytest.mark.parametrize("variant", ["local", "docker"], indirect=True)
async def test_pid1_stdio_is_no_host_file(variant: str, sandbox: Instance, data_dir: Path) -> None:
    """A pidfd_getfd or ptrace that got past the filter would find only pipes and /dev/null."""
    pid = host_pid1(variant, data_dir, sandbox.ref)
    targets = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in (0, 1, 2)]
    for target in targets:
        assert not target.startswith("/") or target == "/dev/null", targets


async def test_pid1_holds_no_host_file(sandbox: Instance, data_dir: Path) -> None:
    result = await py(sandbox, REOPEN_PID1)
    assert result["success"], result
    entries = result["text"].split()
    assert entries, result
    for entry in entries:
        assert ":file:" not in entry, f"pid 1 holds a writable file: {entry}"
    # Nothing the sandbox wrote landed in Bay's files of the session (its run dir).
    runs = [data_dir / "run", DockerDriverSettings().run_dir, LocalDriverSettings().socket_dir]
    files = [path for run in runs for path in run.rglob("*") if path.is_file()]
    assert sum(path.stat().st_size for path in files) < 1 << 20, files


async def test_pid1_cmdline_and_environ_show_no_host_path(
    sandbox: Instance, data_dir: Path
) -> None:
    code = """
import os
seen = []
for name in ("cmdline", "environ"):
    try:
        seen.append(open(f"/proc/1/{name}", "rb").read().decode(errors="replace"))
    except OSError as exc:
        seen.append(f"unreadable:{exc.errno}")
print(repr(seen))
"""
    result = await py(sandbox, code)
    assert result["success"], result
    assert str(data_dir) not in result["text"]


async def test_mountinfo_shows_no_data_dir_or_checkout(
    variant: str, sandbox: Instance, data_dir: Path
) -> None:
    """A root Bay keeps what it binds into a sandbox (its socket dir, the cargo's mount) out of
    the data dir's paths, and Ship comes from the sandbox environment, not the checkout."""
    if os.geteuid() != 0:
        pytest.skip("an unprivileged Bay binds its run dirs from the data dir")
    hidden = [str(data_dir)]
    hidden += [str(REPO)] if variant != "local" or sandbox_rootfs() is not None else []
    result = await py(sandbox, "print(open('/proc/self/mountinfo').read())")
    assert result["success"], result
    for path in hidden:
        assert path not in result["text"], result["text"]
