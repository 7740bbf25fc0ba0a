"""The real engines the driver suites run on: which can exist here, and how to drive each."""

import json
import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from bay.config import DockerDriverSettings, LocalDriverSettings
from bay.drivers.base import CargoSpec, Driver, Instance, Labels, Limits, SessionSpec
from bay.drivers.docker import CONTAINER_PREFIX, DockerDriver
from bay.drivers.local import LocalDriver
from tests.bay_process import SHIP_VENV, sandbox_rootfs

# SHIP_IMAGE names another tag, as for scripts/sandbox_env.py (default: `make image`'s).
IMAGE = os.environ.get("SHIP_IMAGE", "shipyard/ship:latest")
DOCKER_SOCKET = Path("/var/run/docker.sock")
# Per test run: drivers list and stop what carries their instance id, and other runs (another
# checkout's tests, CI) may share this dockerd.
INSTANCE_ID = f"bay-conformance-{uuid.uuid4().hex[:8]}"
VARIANTS = ("local", "docker", "docker+runsc")
# Each variant as a fixture param, marked so `-m local` / `-m docker` pick them.
VARIANT_PARAMS = [
    pytest.param(v, marks=pytest.mark.local if v == "local" else pytest.mark.docker)
    for v in VARIANTS
]


def require(variant: str) -> str:
    """`variant`, or a skip saying why its engine cannot exist here."""
    reason = unavailable(variant)
    if reason is not None:
        pytest.skip(f"{variant}: {reason}")
    return variant


def unavailable(variant: str) -> str | None:
    """Why this engine cannot exist on this machine, or None when it must run."""
    if variant == "local":
        return _local_unavailable()
    if not DOCKER_SOCKET.is_socket() or shutil.which("docker") is None:
        return f"no dockerd socket at {DOCKER_SOCKET} (or no docker CLI)"
    if docker("image", "inspect", IMAGE, check=False) is None:
        return f"the image {IMAGE} is not built (make image)"
    runtimes = docker("info", "--format", "{{json .Runtimes}}") or "{}"
    if variant == "docker+runsc" and "runsc" not in json.loads(runtimes):
        return "runsc is not registered with dockerd (/etc/docker/daemon.json)"
    return None


def _local_unavailable() -> str | None:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed"
    uid = LocalDriverSettings().host_uid
    drop = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    argv = [*(drop if os.geteuid() == 0 else []), bwrap, "--unshare-user", "--ro-bind", "/", "/"]
    done = subprocess.run([*argv, "true"], capture_output=True, check=False)
    if done.returncode != 0:
        return f"user namespaces cannot be created here: {done.stderr.decode().strip()}"
    return None


def make_driver(variant: str, data_dir: Path, instance_id: str = INSTANCE_ID) -> Driver:
    if variant == "local":
        local = LocalDriverSettings(
            rootfs=sandbox_rootfs(), ship_venv=SHIP_VENV, start_timeout_s=60
        )
        return LocalDriver(local, data_dir, instance_id)
    return DockerDriver(DockerDriverSettings(start_timeout_s=60), data_dir, instance_id)


@asynccontextmanager
async def running_driver(variant: str, data_dir: Path) -> AsyncIterator[Driver]:
    """A driver that stops every session it left at the end: sessions outlive their driver by
    design, and a failed test must not leave any running."""
    driver = make_driver(variant, data_dir)
    try:
        yield driver
    finally:
        for info in await driver.list_instances():
            await driver.stop(info.ref)
        await driver.close()


async def new_cargo(driver: Driver) -> str:
    return await driver.create_cargo(CargoSpec(f"ws-{uuid.uuid4().hex[:8]}", "tester", 100, True))


def new_spec(variant: str, cargo: str, limits: Limits, **fields: Any) -> SessionSpec:
    session_id = f"sess-{uuid.uuid4().hex[:8]}"
    labels = Labels("tester", "sandbox-1", session_id, Path(cargo).name, "default", INSTANCE_ID)
    runtime = "runsc" if variant == "docker+runsc" else None
    return SessionSpec(labels, cargo, limits, **{"image": IMAGE, "runtime": runtime, **fields})


def ship(instance: Instance) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(uds=instance.endpoint.removeprefix("unix:"))
    return httpx.AsyncClient(transport=transport, base_url="http://ship", timeout=120)


async def sh(instance: Instance, command: str, timeout: float = 60) -> dict[str, Any]:
    async with ship(instance) as client:
        response = await client.post("/shell/exec", json={"command": command, "timeout": timeout})
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


async def py(instance: Instance, code: str, timeout: float = 60) -> dict[str, Any]:
    async with ship(instance) as client:
        response = await client.post("/python/exec", json={"code": code, "timeout": timeout})
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def docker(*args: str, check: bool = True) -> str | None:
    """The docker CLI's stdout, or None when it failed and check is off."""
    done = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        assert not check, done.stderr
        return None
    return done.stdout


def docker_inspect(ref: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = json.loads(docker("inspect", CONTAINER_PREFIX + ref) or "[]")
    return found[0]


def kill_from_outside(variant: str, data_dir: Path, ref: str) -> None:
    """What an operator or the OOM killer does: the sandbox dies without Bay's knowing."""
    if variant != "local":
        docker("kill", CONTAINER_PREFIX + ref)
        return
    record = json.loads((data_dir / "run" / ref / "session.json").read_text())
    os.kill(record["child_pid"], signal.SIGKILL)


def cpu_usage_s(variant: str, ref: str) -> float | None:
    """CPU seconds a container's cgroup used, seen from the host; None for the local driver."""
    if variant == "local":
        return None
    container_id = docker_inspect(ref)["Id"]
    v1 = Path("/sys/fs/cgroup/cpuacct/docker", container_id, "cpuacct.usage")
    if v1.exists():
        return int(v1.read_text()) / 1e9
    for stat in Path("/sys/fs/cgroup").glob(f"**/*{container_id}*/cpu.stat"):
        fields = dict(line.split() for line in stat.read_text().splitlines())
        return int(fields["usage_usec"]) / 1e6
    return None
