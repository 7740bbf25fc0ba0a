"""What only the Docker driver promises: the container's own settings, as dockerd reports them."""

import asyncio
import json
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bay.config import DockerDriverSettings
from bay.drivers import seccomp
from bay.drivers.base import DriverUnavailableError, InstanceStartError, Limits
from bay.drivers.docker import DockerDriver
from bay.drivers.docker_container import container_config
from bay.egress.launch import Egress
from shipyard_protocol.api import NetworkPolicy
from tests.bay_process import traversable_tmp
from tests.engines import (
    INSTANCE_ID,
    docker,
    docker_inspect,
    make_driver,
    new_cargo,
    new_spec,
    unavailable,
)

pytestmark = [pytest.mark.docker, pytest.mark.asyncio(loop_scope="module")]

INTERNET = Egress(NetworkPolicy(egress="internet"))
LIMITS = Limits(cpus=0.5, memory_bytes=256 * 1024 * 1024, pids=512)


@pytest.fixture(scope="module", params=["docker", "docker+runsc"])
def variant(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    reason = unavailable(name)
    if reason is not None:
        pytest.skip(f"{name}: {reason}")
    return name


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def driver(variant: str, data_dir: Path) -> AsyncIterator[DockerDriver]:
    driver = make_driver(variant, data_dir)
    assert isinstance(driver, DockerDriver)
    yield driver
    for info in await driver.list_instances():
        await driver.stop(info.ref)
    await driver.close()


async def test_container_is_hardened_limited_and_labelled(
    variant: str, driver: DockerDriver
) -> None:
    spec = new_spec(variant, await new_cargo(driver), LIMITS)
    instance = await driver.start(spec)
    try:
        found = docker_inspect(instance.ref)
    finally:
        await driver.stop(instance.ref)
    host, config = found["HostConfig"], found["Config"]
    assert config["User"] == "1000:1000"
    assert host["CapDrop"] == ["ALL"]
    no_new_privileges, profile = host["SecurityOpt"]
    assert no_new_privileges == "no-new-privileges"
    gvisor = variant == "docker+runsc"
    assert json.loads(profile.removeprefix("seccomp=")) == seccomp.docker_profile(gvisor)
    assert host["ReadonlyRootfs"] is True
    assert host["NetworkMode"] == "none"
    assert host["Memory"] == host["MemorySwap"] == LIMITS.memory_bytes
    assert host["NanoCpus"] == 500_000_000
    assert host["PidsLimit"] == LIMITS.pids
    assert host["Runtime"] == ("runsc" if variant == "docker+runsc" else "runc")
    assert config["Labels"].items() >= spec.labels.as_dict().items()
    assert {mount["Destination"] for mount in found["Mounts"]} == {"/workspace", "/run/ship"}
    assert set(host["Tmpfs"]) == {"/tmp"}


async def test_ship_failing_at_start_leaves_nothing(
    variant: str, driver: DockerDriver, data_dir: Path
) -> None:
    # The sandbox environment without Ship (the image's base): its shell exits at once.
    images = docker("images", "--format", "{{.Repository}}:{{.Tag}}", "shipyard/sandbox-env")
    assert images, "make image imports shipyard/sandbox-env"
    spec = new_spec(variant, await new_cargo(driver), LIMITS, image=images.split()[0])
    with pytest.raises(InstanceStartError, match="Ship exited at start"):
        await driver.start(spec)
    assert docker("inspect", f"shipyard-{spec.labels.session_id}", check=False) is None
    assert not (DockerDriverSettings().run_dir / spec.labels.session_id).exists()


async def test_stops_at_once_all_succeed(variant: str, driver: DockerDriver) -> None:
    """GC, a delete and another replica may stop one session together: Docker then answers
    "removal already in progress" to all but one, and each must still end cleanly."""
    instance = await driver.start(new_spec(variant, await new_cargo(driver), LIMITS))
    await asyncio.gather(*(driver.stop(instance.ref) for _ in range(4)))
    assert docker("inspect", f"shipyard-{instance.ref}", check=False) is None


async def test_missing_image_is_a_start_error(variant: str, driver: DockerDriver) -> None:
    image = f"shipyard/missing-{uuid.uuid4().hex[:8]}:latest"
    spec = new_spec(variant, await new_cargo(driver), LIMITS, image=image)
    with pytest.raises(InstanceStartError, match="No such image"):
        await driver.start(spec)


async def test_unreachable_dockerd_is_unavailable(tmp_path: Path) -> None:
    settings = DockerDriverSettings(url="unix:///nonexistent/docker.sock")
    driver = DockerDriver(settings, tmp_path, "bay-test")
    try:
        with pytest.raises(DriverUnavailableError, match="dockerd cannot be reached"):
            await driver.list_instances()
    finally:
        await driver.close()


async def test_network_and_runtime_come_from_the_spec(tmp_path: Path) -> None:
    spec = new_spec("docker", str(tmp_path), LIMITS, egress=INTERNET)
    host = container_config(spec, tmp_path / "run", 64)["HostConfig"]
    assert host["NetworkMode"] == "none"  # its way out is its proxy, never a bridge
    assert "Runtime" not in host
    assert host["Tmpfs"]["/tmp"].endswith("size=64m,mode=1777")


async def test_a_networked_profile_on_a_socket_has_no_interface_but_its_proxy() -> None:
    """Not on any bridge, where sandboxes could reach one another or the host: its netns is
    walled and every connection out goes to the proxy Bay started there. runc only: the
    gVisor registered here runs with --network=none."""
    reason = unavailable("docker")
    if reason is not None:
        pytest.skip(reason)
    with traversable_tmp() as data_dir:
        driver = DockerDriver(DockerDriverSettings(start_timeout_s=60), data_dir, INSTANCE_ID)
        try:
            spec = new_spec("docker", await new_cargo(driver), LIMITS, egress=INTERNET)
            instance = await driver.start(spec)
            try:
                found = docker_inspect(instance.ref)
                pid = str(found["State"]["Pid"])
                rules = subprocess.run(
                    ["nsenter", "-t", pid, "-n", "nft", "list", "table", "inet", "shipyard"],
                    capture_output=True, text=True, check=True,
                ).stdout  # fmt: skip
                listed = {info.ref: info.endpoint for info in await driver.list_instances()}
                counted = driver.traffic(instance.ref)
            finally:
                await driver.stop(instance.ref)
        finally:
            await driver.close()
    assert found["HostConfig"]["NetworkMode"] == "none"
    assert "redirect to :15001" in rules
    assert counted is not None
    assert counted.bytes_out == 0
    assert listed[instance.ref] == instance.endpoint  # still its socket
    assert instance.endpoint.startswith("unix:")
