"""Every real driver keeps the same promises: lifecycle, persistence, limits, isolation, labels."""

import asyncio
import os
import shlex
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from bay.drivers.base import Driver, Instance, InstanceState, Limits
from tests.engines import (
    cpu_usage_s,
    kill_from_outside,
    make_driver,
    new_cargo,
    new_spec,
    py,
    sh,
    ship,
)

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(180)]

LIMITS = Limits(cpus=1.0, memory_bytes=128 * 1024 * 1024, pids=64)
# gVisor's ptrace platform gives every sandbox thread a host thread, and its kernel needs memory.
# Its Go runtime dies when pids.max stops it making a thread: that ends the sandbox, not the host.
GVISOR_LIMITS = Limits(cpus=1.0, memory_bytes=256 * 1024 * 1024, pids=512)
SHARED_CPUS = 0.5
MEMORY_HOG = "b = bytearray({mb}*1024*1024); b[::4096] = b'x'*len(b[::4096])"
FORK_BOMB = """
import os, time
children = []
try:
    for _ in range({count}):
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
PTRACE = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
for pid in map(int, sys.argv[1:]):
    attached = libc.ptrace(0x4206, pid, 0, 0) == 0  # PTRACE_SEIZE: the tracee keeps running
    print(pid, "attached" if attached else os.strerror(ctypes.get_errno()))
    if attached:
        libc.ptrace(17, pid, 0, 0)  # PTRACE_DETACH
"""


def limits_for(variant: str, cpus: float | None = None) -> Limits:
    limits = GVISOR_LIMITS if variant == "docker+runsc" else LIMITS
    return Limits(cpus or limits.cpus, limits.memory_bytes, limits.pids)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(variant: str, driver: Driver) -> AsyncIterator[Instance]:
    """One session for the checks that only look around."""
    spec = new_spec(variant, await new_cargo(driver), limits_for(variant, SHARED_CPUS))
    instance = await driver.start(spec)
    yield instance
    await driver.stop(instance.ref)


async def start(variant: str, driver: Driver, cargo: str | None = None) -> Instance:
    return await driver.start(
        new_spec(variant, cargo or await new_cargo(driver), limits_for(variant))
    )


async def wait_for(driver: Driver, ref: str, state: InstanceState) -> InstanceState:
    for _ in range(100):
        seen = await driver.inspect(ref)
        if seen == state:
            break
        await asyncio.sleep(0.1)
    return seen


async def test_lifecycle(variant: str, driver: Driver) -> None:
    instance = await start(variant, driver)
    assert await driver.inspect(instance.ref) == InstanceState.RUNNING
    async with ship(instance) as client:
        assert (await client.get("/health")).status_code == 200
    listed = {info.ref: info for info in await driver.list_instances()}
    assert listed[instance.ref].labels == instance.labels

    await driver.stop(instance.ref)

    assert await driver.inspect(instance.ref) == InstanceState.MISSING
    assert instance.ref not in {info.ref for info in await driver.list_instances()}
    await driver.stop(instance.ref)  # stopping twice is not an error


async def test_python_and_shell(shared: Instance) -> None:
    shell = await sh(shared, "id -u; whoami; pwd; echo $HOME")
    assert shell["stdout"].split() == ["1000", "shipyard", "/workspace", "/workspace"]
    result = await py(shared, "import os\nx = 6 * 7\nprint(x, os.getuid())")
    assert "42 1000" in str(result), result


async def test_files_persist_across_sessions_of_one_cargo(variant: str, driver: Driver) -> None:
    cargo = await new_cargo(driver)
    first, second = [await start(variant, driver, cargo) for _ in range(2)]
    await sh(first, "echo kept > notes.txt; echo gone > /tmp/scratch.txt")
    assert (await sh(second, "cat notes.txt"))["stdout"] == "kept\n"
    assert (Path(cargo) / "notes.txt").read_text() == "kept\n"
    await driver.stop(first.ref)
    await driver.stop(second.ref)

    third = await start(variant, driver, cargo)
    try:
        result = await sh(third, "cat notes.txt; cat /tmp/scratch.txt 2>/dev/null || echo no-tmp")
    finally:
        await driver.stop(third.ref)
    assert result["stdout"] == "kept\nno-tmp\n"


async def test_sandbox_killed_from_outside_reads_exited_and_files_survive(
    variant: str, driver: Driver, data_dir: Path
) -> None:
    cargo = await new_cargo(driver)
    instance = await start(variant, driver, cargo)
    await sh(instance, "echo survived > kept.txt")
    kill_from_outside(variant, data_dir, instance.ref)

    assert await wait_for(driver, instance.ref, InstanceState.EXITED) == InstanceState.EXITED
    await driver.stop(instance.ref)
    assert await driver.inspect(instance.ref) == InstanceState.MISSING
    again = await start(variant, driver, cargo)
    try:
        assert (await sh(again, "cat kept.txt"))["stdout"] == "survived\n"
    finally:
        await driver.stop(again.ref)


async def test_memory_hog_is_killed(variant: str, driver: Driver) -> None:
    if not driver.enforcement().memory:
        pytest.skip(f"memory limits are not enforceable here: {driver.enforcement().notes}")
    instance = await start(variant, driver)
    hog = MEMORY_HOG.format(mb=limits_for(variant).memory_bytes * 3 // 2**20)
    try:
        result = await sh(instance, f"python3 -c {shlex.quote(hog)}")
    except httpx.TransportError:
        # gVisor: the whole sandbox is one cgroup, so the OOM killer may take the sandbox.
        assert variant == "docker+runsc"
        assert await wait_for(driver, instance.ref, InstanceState.EXITED) == InstanceState.EXITED
    else:
        assert result["exit_code"] in (137, -9) or "MemoryError" in result["stderr"], result
    finally:
        await driver.stop(instance.ref)


async def test_kernel_death_says_how_it_ended(variant: str, driver: Driver) -> None:
    """`os._exit(1)` is an exit code; out of memory only when the cgroup counted an OOM kill."""
    if not driver.enforcement().memory:
        pytest.skip(f"memory limits are not enforceable here: {driver.enforcement().notes}")
    instance = await start(variant, driver)
    hog = MEMORY_HOG.format(mb=limits_for(variant).memory_bytes * 3 // 2**20)
    try:
        exited = await py(instance, "import os\nos._exit(1)")
        oom = await py(instance, hog)
    except httpx.TransportError:
        # gVisor: the whole sandbox is one cgroup, so the OOM killer may take the sandbox.
        assert variant == "docker+runsc"
        return
    finally:
        await driver.stop(instance.ref)
    assert exited["error"]["value"] == (
        "The python kernel exited with code 1; its variables are lost."
    )
    assert oom["error"]["name"] == "KernelDiedError", oom
    if variant != "docker+runsc":  # gVisor's own cgroup files count no OOM kills
        assert (
            "killed by signal 9 (SIGKILL): the sandbox ran out of memory" in (oom["error"]["value"])
        )


async def test_fork_bomb_is_contained(variant: str, driver: Driver) -> None:
    if not driver.enforcement().pids:
        pytest.skip(f"pids limits are not enforceable here: {driver.enforcement().notes}")
    instance = await start(variant, driver)
    bomb = FORK_BOMB.format(count=limits_for(variant).pids * 3)
    try:
        result = await sh(instance, f"python3 -c {shlex.quote(bomb)}")
    except httpx.TransportError:
        # gVisor's ptrace platform needs a host thread per task: the sandbox dies, not the host.
        assert variant == "docker+runsc"
        assert await wait_for(driver, instance.ref, InstanceState.EXITED) == InstanceState.EXITED
    else:
        assert "fork failed" in result["stdout"], result
        assert int(result["stdout"].split("forked")[1]) < limits_for(variant).pids
        assert (await sh(instance, "echo alive"))["stdout"] == "alive\n"
    finally:
        await driver.stop(instance.ref)


async def test_cpu_is_limited(variant: str, driver: Driver, shared: Instance) -> None:
    if not driver.enforcement().cpu:
        pytest.skip(f"cpu limits are not enforceable here: {driver.enforcement().notes}")
    before, started = cpu_usage_s(variant, shared.ref), time.monotonic()
    result = await sh(shared, f"python3 -c {shlex.quote(CPU_BURN)}")
    after, elapsed = cpu_usage_s(variant, shared.ref), time.monotonic() - started
    if before is None or after is None:
        # Busy for one second of wall time, it may get only its share of one CPU-second.
        assert float(result["stdout"]) < SHARED_CPUS * 1.3, result
    else:
        # gVisor's own clock does not see the host's throttling: ask the host's cgroup.
        assert after - before < SHARED_CPUS * elapsed * 1.3, (after - before, elapsed)


async def test_network_is_off(shared: Instance) -> None:
    with socket.create_server(("0.0.0.0", 0)) as listener:
        port = listener.getsockname()[1]
        targets = [("127.0.0.1", port), ("172.17.0.1", port), ("169.254.169.254", 80)]
        probes = "; ".join(
            f"python3 -c 'import socket; socket.create_connection((\"{host}\", {p}), timeout=3)' "
            f"2>/dev/null && echo reached {host}"
            for host, p in targets
        )
        result = await sh(shared, f"getent hosts example.com && echo resolved; {probes}")
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert "resolved" not in result["stdout"]
    assert "reached" not in result["stdout"]


async def test_system_is_read_only_and_unprivileged(shared: Instance) -> None:
    targets = ["/etc/passwd", "/usr/x", "/x"]
    writes = "; ".join(f"(echo x > {path}) 2>/dev/null && echo wrote {path}" for path in targets)
    status = "grep -E '^(Cap|NoNewPrivs)' /proc/self/status"
    result = await sh(shared, f"{writes}; cat /etc/passwd; {status}")
    assert "wrote" not in result["stdout"]
    assert "shipyard:x:1000:1000::/workspace:/bin/bash" in result["stdout"]
    fields = dict(line.split(":\t") for line in result["stdout"].splitlines() if ":\t" in line)
    # No capabilities and no way to gain any: setuid binaries run without privilege.
    caps = {name: value.strip() for name, value in fields.items() if name.startswith("Cap")}
    assert {"CapInh", "CapPrm", "CapEff", "CapBnd"} <= caps.keys(), fields  # gVisor has no CapAmb
    assert set(caps.values()) == {"0000000000000000"}, fields
    assert fields.get("NoNewPrivs", "1").strip() == "1", fields  # gVisor does not show it


async def test_escape_attempts_fail(driver: Driver, data_dir: Path, shared: Instance) -> None:
    (data_dir / "bay.db").write_text("SQLite format 3")
    (data_dir / "credentials.json").write_text('{"api_key": "secret"}')
    other = Path(await new_cargo(driver)) / "private.txt"
    other.write_text("another tenant's file")
    secrets = [data_dir / "bay.db", data_dir / "credentials.json", other, other.parent]
    paths = [*secrets, "/var/run/docker.sock", "/run/docker.sock", f"/proc/1/root{data_dir}"]
    checks = [f"test -e {path} && echo visible {path}" for path in paths]
    checks += [
        "cat /proc/1/root/etc/shadow >/dev/null 2>&1 && echo read shadow",
        "mkdir -p /tmp/m; mount -t tmpfs none /tmp/m 2>/dev/null && echo mounted",
        "su -c id root </dev/null 2>/dev/null | grep -q uid=0 && echo became root",
    ]
    result = await sh(shared, "; ".join(checks) + "; true")
    assert result["stdout"] == "", result


async def test_ptrace_of_ship_and_the_host_fails(shared: Instance) -> None:
    # $PPID of the shell is Ship, which holds the control channel; our own pid is on the host.
    result = await sh(shared, f"python3 -c {shlex.quote(PTRACE)} $PPID {os.getpid()}")
    assert "attached" not in result["stdout"], result
    assert len(result["stdout"].splitlines()) == 2, result


async def test_restarted_driver_finds_and_stops_the_session(
    variant: str, driver: Driver, data_dir: Path
) -> None:
    instance = await start(variant, driver)
    restarted = make_driver(variant, data_dir)
    found = {info.ref: info for info in await restarted.list_instances()}
    assert found[instance.ref].state == InstanceState.RUNNING
    assert found[instance.ref].labels == instance.labels
    assert found[instance.ref].endpoint == instance.endpoint
    async with ship(instance) as client:
        assert (await client.get("/health")).status_code == 200
    stranger = make_driver(variant, data_dir, instance_id="another-bay")
    assert instance.ref not in {info.ref for info in await stranger.list_instances()}

    await restarted.stop(instance.ref)

    assert await driver.inspect(instance.ref) == InstanceState.MISSING
    await restarted.close()
    await stranger.close()
