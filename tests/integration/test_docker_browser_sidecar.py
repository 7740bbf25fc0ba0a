"""The Docker driver's browser sidecar: a second container of the session that shares its
cargo, its network namespace and its pid namespace, has limits of its own, and goes with it."""

import asyncio
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bay.drivers.base import BrowserSpec, Instance, InstanceStartError, InstanceState, Limits
from bay.drivers.docker import DockerDriver
from tests.bay_process import traversable_tmp
from tests.engines import (
    docker,
    docker_inspect,
    new_cargo,
    new_spec,
    running_driver,
    sh,
    ship,
    unavailable,
)

pytestmark = [pytest.mark.docker, pytest.mark.asyncio(loop_scope="module")]

LIMITS = Limits(cpus=0.5, memory_bytes=256 * 1024 * 1024, pids=512)
BROWSER = BrowserSpec(Limits(cpus=1.0, memory_bytes=768 * 1024 * 1024, pids=1024))


VARIANT = "docker"  # runc; gVisor refuses a sidecar (the last test)


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    """Bay's data dir for this module's drivers (conftest's is one per engine variant)."""
    with traversable_tmp() as path:
        yield path


@asynccontextmanager
async def docker_driver(variant: str, data_dir: Path) -> AsyncIterator[DockerDriver]:
    reason = unavailable(variant)
    if reason is not None:
        pytest.skip(f"{variant}: {reason}")
    async with running_driver(variant, data_dir) as driver:
        assert isinstance(driver, DockerDriver)
        yield driver


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def driver(data_dir: Path) -> AsyncIterator[DockerDriver]:
    async with docker_driver(VARIANT, data_dir) as made:
        yield made


@pytest_asyncio.fixture(loop_scope="module")
async def session(driver: DockerDriver) -> AsyncIterator[Instance]:
    spec = new_spec(VARIANT, await new_cargo(driver), LIMITS, browser=BROWSER)
    instance = await driver.start(spec)
    yield instance
    await driver.stop(instance.ref)


def in_sidecar(instance: Instance, command: str) -> str:
    """`command` run in the sidecar by dockerd (its Ship serves the browser's routes only)."""
    found = docker("exec", f"shipyard-{instance.ref}-browser", "bash", "-c", command)
    assert found is not None
    return found


def inspect_sidecar(instance: Instance) -> dict[str, Any]:
    return docker_inspect(f"{instance.ref}-browser")


async def test_the_sidecar_has_its_own_limits_and_the_sessions_namespaces(
    session: Instance,
) -> None:
    assert session.browser_endpoint not in (None, session.endpoint)
    found = inspect_sidecar(session)
    host = found["HostConfig"]
    primary = f"container:{docker_inspect(session.ref)['Id']}"  # dockerd resolves the name
    assert (host["NetworkMode"], host["PidMode"]) == (primary, primary)
    assert host["Memory"] == host["MemorySwap"] == BROWSER.limits.memory_bytes
    assert host["NanoCpus"] == 1_000_000_000
    assert host["PidsLimit"] == BROWSER.limits.pids
    assert host["CapDrop"] == ["ALL"]
    assert host["ReadonlyRootfs"] is True
    assert found["Config"]["User"] == "1000:1000"
    assert found["Config"]["Labels"]["bay.runtime"] == "browser"
    # One network and one pid namespace, as the sidecar's own processes see them.
    namespaces = "readlink /proc/self/ns/net /proc/self/ns/pid"
    ours, theirs = await sh(session, namespaces), in_sidecar(session, namespaces)
    assert ours["exit_code"] == 0
    assert ours["stdout"] == theirs


async def test_the_sidecar_sees_the_cargo_and_reaches_the_sessions_servers(
    session: Instance,
) -> None:
    written = await sh(session, "echo from-ship > /workspace/shared.txt")
    assert written["exit_code"] == 0
    assert in_sidecar(session, "cat /workspace/shared.txt") == "from-ship\n"
    serve = "nohup python3 -m http.server 8765 --bind 127.0.0.1 >/dev/null 2>&1 &"
    assert (await sh(session, serve))["exit_code"] == 0
    fetch = (
        "for i in $(seq 100); do curl -sf http://127.0.0.1:8765/shared.txt && exit 0; "
        "sleep 0.2; done; exit 1"
    )
    assert in_sidecar(session, fetch) == "from-ship\n"


async def test_the_sidecar_is_part_of_the_session_not_an_instance(
    variant: str, driver: DockerDriver
) -> None:
    instance = await driver.start(
        new_spec(VARIANT, await new_cargo(driver), LIMITS, browser=BROWSER)
    )
    listed = [info.ref for info in await driver.list_instances()]
    assert listed.count(instance.ref) == 1
    assert f"{instance.ref}-browser" not in listed
    await driver.stop(instance.ref)
    assert docker("inspect", f"shipyard-{instance.ref}-browser", check=False) is None
    assert docker("inspect", f"shipyard-{instance.ref}", check=False) is None


async def test_the_sidecar_ends_with_the_sessions_container(driver: DockerDriver) -> None:
    """A session container that ends on its own (Ship's lease ran out, an OOM kill of its
    init) takes the browser with it: nothing of the sandbox keeps running unowned."""
    instance = await driver.start(
        new_spec(VARIANT, await new_cargo(driver), LIMITS, browser=BROWSER)
    )
    try:
        docker("kill", f"shipyard-{instance.ref}")
        await _exited(f"shipyard-{instance.ref}-browser")
    finally:
        await driver.stop(instance.ref)


async def test_gvisor_refuses_the_sidecar_clearly(data_dir: Path) -> None:
    """runsc gives a container joining another's pid namespace one of its own (checked by
    hand: the first container's processes are not there), so the walls would not hold."""
    async with docker_driver("docker+runsc", data_dir) as gvisor:
        spec = new_spec("docker+runsc", await new_cargo(gvisor), LIMITS, browser=BROWSER)
        with pytest.raises(InstanceStartError, match="gVisor"):
            await gvisor.start(spec)
        assert docker("inspect", f"shipyard-{spec.labels.session_id}", check=False) is None


async def _exited(name: str, timeout: float = 60) -> None:
    """`docker wait`: returns once the container has stopped (at once if it already has)."""
    waiter = await asyncio.create_subprocess_exec(
        "docker", "wait", name, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        async with asyncio.timeout(timeout):
            await waiter.wait()
    finally:
        if waiter.returncode is None:
            waiter.kill()
            await waiter.wait()


async def test_a_session_whose_browser_ended_is_seen_as_exited(driver: DockerDriver) -> None:
    """So Bay restarts it whole instead of answering 502 to every browser call."""
    instance = await driver.start(
        new_spec(VARIANT, await new_cargo(driver), LIMITS, browser=BROWSER)
    )
    try:
        assert await driver.inspect(instance.ref) == InstanceState.RUNNING
        docker("kill", f"shipyard-{instance.ref}-browser")
        await _exited(f"shipyard-{instance.ref}-browser")
        assert await driver.inspect(instance.ref) == InstanceState.EXITED
    finally:
        await driver.stop(instance.ref)


async def test_the_sidecars_ship_serves_the_browser_only(session: Instance) -> None:
    """What reaches the sidecar's Ship (its socket is visible through /proc from the session's
    container) gets no shell, kernel or files in the browser's cgroup."""
    assert session.browser_endpoint is not None
    async with ship(replace(session, endpoint=session.browser_endpoint)) as client:
        shell = await client.post("/shell/exec", json={"command": "id"})
        health = await client.get("/health")
    assert shell.status_code == 404
    assert health.json()["browser"] is True
