"""The local driver against real bubblewrap, cgroups and Ship."""

import json
import os
import select
import shlex
import shutil
import signal
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from bay.config import LocalDriverSettings
from bay.drivers.base import (
    CargoSpec,
    DriverError,
    Instance,
    InstanceStartError,
    InstanceState,
    Labels,
    Limits,
    SessionSpec,
)
from bay.drivers.local import LocalDriver
from tests.bay_process import REPO, SHIP_VENV, sandbox_rootfs, traversable_tmp

INSTANCE_ID = "bay-test"
LIMITS = Limits(cpus=1.0, memory_bytes=128 * 1024 * 1024, pids=64)
SHARED_LIMITS = Limits(cpus=0.5, memory_bytes=LIMITS.memory_bytes, pids=LIMITS.pids)
MEMORY_HOG = "python3 -c \"b = bytearray(400*1024*1024); b[::4096] = b'x'*len(b[::4096])\""
FORK_BOMB = """
import os, time
children = []
try:
    for _ in range(300):
        pid = os.fork()
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        children.append(pid)
except OSError as exc:
    print("fork failed:", exc)
print("forked", len(children))
for pid in children:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
"""
CPU_BURN = """
import time
start, end = time.process_time(), time.monotonic() + 1.0
while time.monotonic() < end:
    pass
print(time.process_time() - start)
"""


def sandbox_unavailable() -> str | None:
    """Why no sandbox can run here at all: only a missing bwrap or no user namespaces."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed"
    # As root the driver runs bwrap as host_uid, so try user namespaces as that user.
    uid = LocalDriverSettings().host_uid
    drop = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    argv = [*(drop if os.geteuid() == 0 else []), bwrap, "--unshare-user", "--ro-bind", "/", "/"]
    done = subprocess.run([*argv, "true"], capture_output=True, check=False)
    if done.returncode != 0:
        return f"user namespaces cannot be created here: {done.stderr.decode().strip()}"
    return None


UNAVAILABLE = sandbox_unavailable()
pytestmark = [
    pytest.mark.local,
    pytest.mark.skipif(UNAVAILABLE is not None, reason=UNAVAILABLE or ""),
    pytest.mark.asyncio(loop_scope="module"),
]


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    # Short, so socket paths fit in sun_path; traversable, since sandboxes run as host_uid.
    with traversable_tmp() as path:
        yield path


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def driver(data_dir: Path) -> AsyncIterator[LocalDriver]:
    driver = new_driver(data_dir)
    yield driver
    # Sessions outlive their driver by design; a failed test must not leave any running.
    for info in await driver.list_instances():
        await driver.stop(info.ref)
    for storage in await driver.list_cargos():
        await driver.delete_cargo(storage.driver_ref)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(driver: LocalDriver) -> AsyncIterator[Instance]:
    """One session for the checks that only look around."""
    instance = await driver.start(new_spec(await new_cargo(driver), SHARED_LIMITS))
    yield instance
    await driver.stop(instance.ref)


@pytest.fixture
def make_venv(data_dir: Path) -> Callable[[str], Path]:
    """A venv whose `python -m ship` runs the given source instead of Ship."""

    def make(main: str) -> Path:
        venv = data_dir / "venvs" / uuid.uuid4().hex[:8]
        site = venv / next(SHIP_VENV.glob("lib/python3*")).relative_to(SHIP_VENV) / "site-packages"
        (venv / "src" / "ship").mkdir(parents=True)
        (venv / "src" / "ship" / "__init__.py").write_text("")
        (venv / "src" / "ship" / "__main__.py").write_text(main)
        site.mkdir(parents=True)
        (site / "fake_ship.pth").write_text(f"{venv / 'src'}\n")
        (venv / "bin").mkdir()
        (venv / "bin" / "python").symlink_to((SHIP_VENV / "bin" / "python").resolve())
        shutil.copy(SHIP_VENV / "pyvenv.cfg", venv / "pyvenv.cfg")
        return venv

    return make


def new_driver(data_dir: Path, instance_id: str = INSTANCE_ID, **settings: Any) -> LocalDriver:
    defaults = {"rootfs": sandbox_rootfs(), "ship_venv": SHIP_VENV, "start_timeout_s": 60}
    config = LocalDriverSettings(**{**defaults, **settings})
    return LocalDriver(config, data_dir, instance_id)


async def new_cargo(driver: LocalDriver) -> str:
    return await driver.create_cargo(CargoSpec(f"ws-{uuid.uuid4().hex[:8]}", "tester", 100, True))


def new_spec(cargo: str, limits: Limits = LIMITS) -> SessionSpec:
    session_id = f"sess-{uuid.uuid4().hex[:8]}"
    labels = Labels("tester", "sandbox-1", session_id, Path(cargo).name, "default", INSTANCE_ID)
    return SessionSpec(labels=labels, cargo_ref=cargo, limits=limits)


async def start_session(driver: LocalDriver, cargo: str | None = None) -> Instance:
    return await driver.start(new_spec(cargo or await new_cargo(driver)))


def ship(instance: Instance) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(uds=instance.endpoint.removeprefix("unix:"))
    return httpx.AsyncClient(transport=transport, base_url="http://ship", timeout=90)


async def sh(instance: Instance, command: str, timeout: float = 30) -> dict[str, Any]:
    async with ship(instance) as client:
        response = await client.post("/shell/exec", json={"command": command, "timeout": timeout})
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def record_of(data_dir: Path, ref: str) -> dict[str, Any]:
    record: dict[str, Any] = json.loads((data_dir / "run" / ref / "session.json").read_text())
    return record


def running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def wait_dead(pid: int) -> None:
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    with os.fdopen(pidfd) as handle:
        assert select.select([handle], [], [], 10)[0], f"pid {pid} still running"


def processes_mentioning(text: str) -> list[int]:
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if text.encode() in cmdline and running(int(proc.name)):
            found.append(int(proc.name))
    return found


def leftover_cgroups(ref: str) -> list[Path]:
    return list(Path("/sys/fs/cgroup").glob(f"*/**/shipyard/{ref}"))


async def test_stop_kills_everything_and_removes_the_session(
    driver: LocalDriver, data_dir: Path
) -> None:
    instance = await start_session(driver)
    async with ship(instance) as client:
        assert (await client.get("/health")).status_code == 200
    record = record_of(data_dir, instance.ref)
    enforced = driver.enforcement()
    assert bool(record["cgroups"]) == (enforced.memory or enforced.pids or enforced.cpu)

    await driver.stop(instance.ref)

    assert await driver.inspect(instance.ref) == InstanceState.MISSING
    assert not running(record["pid"])
    assert not running(record["child_pid"])
    assert not any(Path(directory).exists() for directory in record["cgroups"])
    assert not (data_dir / "run" / instance.ref).exists()


async def test_runs_as_the_unprivileged_sandbox_user(shared: Instance) -> None:
    result = await sh(shared, "id -u; whoami; hostname")
    assert result["stdout"].split() == ["1000", "shipyard", "sandbox"]


async def test_sees_only_its_own_processes(shared: Instance) -> None:
    result = await sh(shared, "ls /proc | grep -c '^[0-9]'")
    assert int(result["stdout"]) <= 8


async def test_system_directories_are_read_only(shared: Instance) -> None:
    targets = ["/etc/passwd", "/usr/x", "/x"]
    command = "; ".join(f"(echo x > {path}) 2>/dev/null && echo wrote {path}" for path in targets)
    result = await sh(shared, f"{command}; cat /etc/passwd")
    assert "wrote" not in result["stdout"]
    assert "shipyard:x:1000:1000::/workspace:/bin/bash" in result["stdout"]


async def test_socket_cannot_be_swapped(shared: Instance) -> None:
    if os.geteuid() != 0:
        pytest.skip("without root, Bay and the sandbox share a uid and the socket dir")
    result = await sh(shared, "ln -sf /etc/passwd /run/ship/ship.sock || echo refused")
    assert result["stdout"] == "refused\n"
    async with ship(shared) as client:
        assert (await client.get("/health")).status_code == 200


async def test_host_paths_are_hidden(driver: LocalDriver, data_dir: Path, shared: Instance) -> None:
    (data_dir / "credentials.json").write_text('{"api_key": "secret"}')
    other = Path(await new_cargo(driver)) / "private.txt"
    other.write_text("another tenant's file")
    # The host's home, by a file only it has (the sandbox environment has a /root of its own).
    home = Path.home() / f".shipyard-test-{uuid.uuid4().hex[:8]}"
    home.write_text("host only")
    paths = [data_dir / "credentials.json", other, other.parent, data_dir, home]
    checks = "; ".join(f"test -e {path} && echo visible {path}" for path in paths)
    try:
        result = await sh(shared, f"{checks}; tr '\\0' ' ' < /proc/1/cmdline")
    finally:
        home.unlink()
    assert "visible" not in result["stdout"]
    assert str(data_dir) not in result["stdout"]


async def test_host_loopback_is_unreachable(shared: Instance) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        connect = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3)"
        result = await sh(shared, f'python3 -c "{connect}"')
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert result["exit_code"] != 0
    assert "ConnectionRefusedError" in result["stderr"]


async def test_proc_1_root_shows_only_the_sandbox(shared: Instance) -> None:
    rootfs = sandbox_rootfs()
    # The environment has Debian's own /etc/shadow (root's only); the host's is never shown.
    shadow = "test -r" if rootfs is not None else "test -e"
    if rootfs is not None:
        allowed = set(os.listdir(rootfs))
    else:
        allowed = {"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "dev", "proc"}
        allowed |= {"run", "tmp", "workspace", SHIP_VENV.parts[1]}
    result = await sh(
        shared, f"ls -A /proc/1/root/; {shadow} /proc/1/root/etc/shadow && echo shadow"
    )
    assert set(result["stdout"].split()) <= allowed


async def test_has_no_capabilities(shared: Instance) -> None:
    result = await sh(shared, "grep ^Cap /proc/self/status")
    values = [line.split()[1] for line in result["stdout"].splitlines()]
    assert values == ["0000000000000000"] * 5


async def test_workspace_outlives_the_session(driver: LocalDriver) -> None:
    cargo = await new_cargo(driver)
    first = await start_session(driver, cargo)
    await sh(first, "echo kept > notes.txt")
    assert (Path(cargo) / "notes.txt").read_text() == "kept\n"
    await driver.stop(first.ref)

    second = await start_session(driver, cargo)
    try:
        assert (await sh(second, "cat notes.txt"))["stdout"] == "kept\n"
    finally:
        await driver.stop(second.ref)


async def test_memory_limit_kills_a_hog(driver: LocalDriver, shared: Instance) -> None:
    if not driver.enforcement().memory:
        pytest.skip(f"memory limits are not enforceable here: {driver.enforcement().notes}")
    result = await sh(shared, MEMORY_HOG, timeout=60)
    assert result["exit_code"] in (137, -9) or "MemoryError" in result["stderr"], result


async def test_pids_limit_contains_a_fork_bomb(driver: LocalDriver, shared: Instance) -> None:
    if not driver.enforcement().pids:
        pytest.skip(f"pids limits are not enforceable here: {driver.enforcement().notes}")
    result = await sh(shared, f"python3 -c {shlex.quote(FORK_BOMB)}", timeout=60)
    assert "fork failed" in result["stdout"], result
    assert int(result["stdout"].split("forked")[1]) < LIMITS.pids
    assert (await sh(shared, "echo alive"))["stdout"] == "alive\n"


async def test_cpu_quota_throttles_busy_processes(driver: LocalDriver, shared: Instance) -> None:
    if not driver.enforcement().cpu:
        pytest.skip(f"cpu limits are not enforceable here: {driver.enforcement().notes}")
    result = await sh(shared, f"python3 -c {shlex.quote(CPU_BURN)}")
    # Busy for one second of wall time, it may get only its share of one CPU-second.
    assert float(result["stdout"]) < SHARED_LIMITS.cpus * 1.3, result


async def test_restarted_driver_finds_and_stops_the_session(
    driver: LocalDriver, data_dir: Path
) -> None:
    instance = await start_session(driver)
    restarted = new_driver(data_dir)
    found = {info.ref: info for info in await restarted.list_instances()}
    assert found[instance.ref].state == InstanceState.RUNNING
    assert found[instance.ref].labels == instance.labels
    assert found[instance.ref].endpoint == instance.endpoint
    stranger = new_driver(data_dir, instance_id="another-bay")
    assert instance.ref not in {info.ref for info in await stranger.list_instances()}

    await restarted.stop(instance.ref)

    assert await driver.inspect(instance.ref) == InstanceState.MISSING


async def test_sandbox_killed_from_outside_reads_exited(
    driver: LocalDriver, data_dir: Path
) -> None:
    instance = await start_session(driver)
    child = record_of(data_dir, instance.ref)["child_pid"]
    os.kill(child, signal.SIGKILL)
    wait_dead(child)

    assert await driver.inspect(instance.ref) == InstanceState.EXITED
    await driver.stop(instance.ref)
    assert await driver.inspect(instance.ref) == InstanceState.MISSING


async def test_ship_dying_at_start_leaves_nothing(
    data_dir: Path, make_venv: Callable[[str], Path]
) -> None:
    venv = make_venv("raise SystemExit('crashed on purpose')")
    driver = new_driver(data_dir, rootfs=None, ship_venv=venv)
    spec = new_spec(await new_cargo(driver))
    with pytest.raises(InstanceStartError, match="crashed on purpose"):
        await driver.start(spec)
    assert not (data_dir / "run" / spec.labels.session_id).exists()
    assert leftover_cgroups(spec.labels.session_id) == []


async def test_ship_never_ready_is_killed_at_the_timeout(
    data_dir: Path, make_venv: Callable[[str], Path]
) -> None:
    venv = make_venv("import time\ntime.sleep(600)\n")
    driver = new_driver(data_dir, rootfs=None, ship_venv=venv, start_timeout_s=1)
    spec = new_spec(await new_cargo(driver))
    with pytest.raises(InstanceStartError, match="did not become ready"):
        await driver.start(spec)
    assert processes_mentioning(str(venv)) == []
    assert not (data_dir / "run" / spec.labels.session_id).exists()
    assert leftover_cgroups(spec.labels.session_id) == []


async def test_a_venv_the_sandbox_uids_cannot_reach_is_refused_by_name(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("only a root Bay runs sandboxes as other host uids (Bay runs unprivileged)")
    hidden = tmp_path / "hidden"
    hidden.mkdir(mode=0o700)
    (hidden / "venv").symlink_to(SHIP_VENV)
    with (
        traversable_tmp() as data,
        pytest.raises(DriverError, match=r"cannot traverse .*chmod o\+x"),
    ):
        LocalDriver(LocalDriverSettings(ship_venv=hidden / "venv"), data, INSTANCE_ID)


async def test_mountinfo_and_pid1_name_no_data_dir_or_checkout(
    data_dir: Path, shared: Instance
) -> None:
    """A root Bay keeps socket dirs outside the data dir, and the sandbox environment holds
    Ship itself: the sandbox's view of its mounts and of pid 1 names neither."""
    hidden = [str(data_dir)] if os.geteuid() == 0 else []
    hidden += [str(REPO)] if sandbox_rootfs() is not None else []
    if not hidden:
        pytest.skip("an unprivileged Bay over the host's /usr binds both by their paths")
    result = await sh(shared, "cat /proc/self/mountinfo; tr '\\0' '\\n' < /proc/1/environ")
    assert result["exit_code"] == 0, result
    for path in hidden:
        assert path not in result["stdout"]
