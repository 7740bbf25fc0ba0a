"""A real Bay on the Docker driver with `endpoint: container_ip`: Ship on TCP behind a token."""

import hashlib
import hmac
import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bay.config import DockerDriverSettings
from bay.drivers.base import BrowserSpec, Limits
from bay.drivers.docker import DockerDriver
from bay.ship_client import ShipClient
from shipyard_protocol.ship import ShellRun
from tests.bay_process import BayProcess, traversable_tmp
from tests.engines import IMAGE, INSTANCE_ID, new_cargo, new_spec, unavailable

pytestmark = [pytest.mark.docker]

SHIP_PORT = 8123
PROBE = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close()
    print("connected")
except OSError as exc:
    print("refused", exc)
"""


@dataclass(frozen=True)
class Setup:
    bay: BayProcess
    network: str
    sandbox_id: str


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    reason = unavailable("docker")
    if reason:
        pytest.skip(reason)
    suffix = uuid.uuid4().hex[:8]
    network = f"shipyard-test-{suffix}"
    endpoint = {"endpoint": "container_ip", "network": network}
    profiles = [{"id": "python-default"}, {"id": "python-net", "network": True}]
    config = {"gc": {"enabled": False}, "driver": {"docker": endpoint}, "profiles": profiles}
    with traversable_tmp() as base:
        bay = BayProcess(base / "data", config, driver="docker")
        bay.start()
        try:
            with bay.client() as client:
                sandbox_id = client.post("/v1/sandboxes", json={}).json()["id"]
            yield Setup(bay, network, sandbox_id)
        finally:
            _clean_up(bay, network)


def _clean_up(bay: BayProcess, *networks: str) -> None:
    with bay.client() as client:
        for item in client.get("/v1/sandboxes", params={"limit": 200}).json()["items"]:
            client.delete(f"/v1/sandboxes/{item['id']}")
    bay.stop()
    for network in networks:
        # A container whose removal is still under way would keep the network.
        left = docker("ps", "-aq", "--filter", f"network={network}").split()
        if left:
            docker("rm", "-f", *left)
        subprocess.run(["docker", "network", "rm", network], capture_output=True, check=False)
    assert not docker("network", "ls", "-q", *(f"--filter=name=^{n}$" for n in networks))


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout


def inspect(sandbox_id: str) -> dict[str, Any]:
    (container,) = docker("ps", "-q", "--filter", f"label=bay.sandbox_id={sandbox_id}").split()
    found: dict[str, Any] = json.loads(docker("inspect", container))[0]
    return found


def ship_url(setup: Setup) -> str:
    networks = inspect(setup.sandbox_id)["NetworkSettings"]["Networks"]
    return f"http://{networks[setup.network]['IPAddress']}:{SHIP_PORT}"


def run(bay: BayProcess, sandbox_id: str, kind: str, text: str) -> dict[str, Any]:
    field = "code" if kind == "python" else "command"
    with bay.client() as client:
        response = client.post(f"/v1/sandboxes/{sandbox_id}/{kind}/exec", json={field: text})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_python_and_shell_run_over_the_container_ip(setup: Setup) -> None:
    assert run(setup.bay, setup.sandbox_id, "shell", "whoami")["output"] == "shipyard"
    assert run(setup.bay, setup.sandbox_id, "python", "21 * 2")["output"] == "42"

    found = inspect(setup.sandbox_id)
    session_id = found["Config"]["Labels"]["bay.session_id"]
    assert found["HostConfig"]["NetworkMode"] == setup.network
    assert "SHIP_SOCKET=" in found["Config"]["Env"]
    assert not (DockerDriverSettings().run_dir / session_id / "ship.sock").exists()


def test_the_network_is_internal_and_isolates_sandboxes(setup: Setup) -> None:
    network = json.loads(docker("network", "inspect", setup.network))[0]

    assert network["Internal"] is True
    assert network["Options"]["com.docker.network.bridge.enable_icc"] == "false"
    assert network["Labels"]["bay.managed"] == "true"


def test_ship_refuses_requests_without_the_token(setup: Setup) -> None:
    url = ship_url(setup)
    body = {"command": "id"}
    wrong = {"Authorization": f"Bearer {'0' * 64}"}

    missing = httpx.post(f"{url}/shell/exec", json=body, timeout=10)
    forged = httpx.post(f"{url}/shell/exec", json=body, headers=wrong, timeout=10)

    assert (missing.status_code, forged.status_code) == (401, 401)
    assert missing.json()["error"]["code"] == "unauthorized"
    assert httpx.get(f"{url}/health", timeout=10).status_code == 200


def test_the_sandbox_never_sees_the_token(setup: Setup) -> None:
    code = "import os; sorted(k for k in os.environ if k.startswith('SHIP_TOKEN'))"

    assert run(setup.bay, setup.sandbox_id, "python", code)["output"] == "[]"
    assert run(setup.bay, setup.sandbox_id, "shell", "env | grep -c SHIP_TOKEN")["output"] == "0"


def test_only_the_digest_is_in_the_container(setup: Setup) -> None:
    """The init process keeps the container's environment, readable in the sandbox: it holds
    the token's digest, which lets nobody in, and never the token."""
    found = inspect(setup.sandbox_id)
    secret = (setup.bay.data_dir / "ship-secret").read_bytes().strip()
    session_id = found["Config"]["Labels"]["bay.session_id"]
    token = hmac.new(secret, session_id.encode(), hashlib.sha256).hexdigest()
    dump = "cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | sort -u"

    environs = run(setup.bay, setup.sandbox_id, "shell", dump)["output"]

    assert "SHIP_TOKEN_SHA256=" in environs
    assert token not in environs
    assert token not in json.dumps(found)
    assert token not in setup.bay.log.read_text()


def test_another_container_on_the_network_cannot_reach_ship(setup: Setup) -> None:
    ip = ship_url(setup).split("//")[1].split(":")[0]
    argv = ["run", "--rm", "--network", setup.network, IMAGE, "python3", "-c", PROBE]

    assert docker(*argv, ip, str(SHIP_PORT)).startswith("refused")


def test_no_network_means_no_egress(setup: Setup) -> None:
    # A documentation address (RFC 5737): with no route out, no packet is even sent.
    code = PROBE.replace("sys.argv[1], int(sys.argv[2])", "'203.0.113.10', 80")

    assert run(setup.bay, setup.sandbox_id, "python", code)["output"].startswith("refused")


def test_a_network_profile_stays_on_the_internal_network_behind_its_proxy(
    setup: Setup,
) -> None:
    """Its only way out is its proxy (tests/network has what each policy reaches)."""
    with setup.bay.client() as client:
        sandbox_id = client.post("/v1/sandboxes", json={"profile": "python-net"}).json()["id"]
    assert run(setup.bay, sandbox_id, "shell", "echo up")["output"] == "up"

    found = inspect(sandbox_id)
    assert found["HostConfig"]["NetworkMode"] == setup.network
    pid = str(found["State"]["Pid"])
    rules = subprocess.run(
        ["nsenter", "-t", pid, "-n", "nft", "list", "table", "inet", "shipyard"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "redirect to :15001" in rules
    assert "policy drop" in rules


def test_a_restarted_bay_reattaches(setup: Setup) -> None:
    run(setup.bay, setup.sandbox_id, "python", "kept = 'still here'")

    setup.bay.restart()

    after = run(setup.bay, setup.sandbox_id, "python", "kept")
    assert after["output"] == "'still here'"
    assert after["kernel_restarted"] is False


async def test_a_remote_engine_waits_on_health_and_lists_the_same_endpoint(setup: Setup) -> None:
    """`ready: health` (no shared run dir), on the network the Bay above already made."""
    settings = DockerDriverSettings(
        endpoint="container_ip", ready="health", network=setup.network, start_timeout_s=60
    )
    with traversable_tmp() as data_dir:
        driver = DockerDriver(settings, data_dir, INSTANCE_ID)
        spec = new_spec("docker", await new_cargo(driver), Limits(1, 256 * 1024**2, 256))
        try:
            instance = await driver.start(spec)
            found = await driver.list_instances()
            async with ShipClient(token_for=driver.ship_token) as ship:
                outcome = await ship.shell(instance.endpoint, ShellRun(command="echo hi"))
            binds = inspect_session(instance.ref)["HostConfig"]["Binds"]
        finally:
            await driver.stop(spec.labels.session_id)
            await driver.close()

    # Other suites may run containers under the same instance id at the same time.
    listed = {info.ref: info.endpoint for info in found if info.ref == instance.ref}
    assert listed == {instance.ref: instance.endpoint}
    assert outcome.stdout == "hi\n"
    assert not any(bind.endswith(":/run/ship:rw") for bind in binds)


def inspect_session(session_id: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(docker("inspect", f"shipyard-{session_id}"))[0]
    return found


@pytest.mark.parametrize("ready", ["file", "health"])
async def test_a_browser_sidecar_answers_on_its_own_port_behind_the_same_token(
    setup: Setup, ready: str
) -> None:
    settings = DockerDriverSettings(
        endpoint="container_ip", ready=ready, network=setup.network, start_timeout_s=60
    )
    limits = Limits(1, 256 * 1024**2, 256)
    with traversable_tmp() as data_dir:
        driver = DockerDriver(settings, data_dir, INSTANCE_ID)
        cargo = await new_cargo(driver)
        spec = new_spec("docker", cargo, limits, browser=BrowserSpec(limits))
        try:
            instance = await driver.start(spec)
            assert instance.browser_endpoint is not None
            async with ShipClient(token_for=driver.ship_token) as ship:
                # One network namespace: the sidecar's Ship answers at the session's address.
                closed = await ship.browser_close(instance.browser_endpoint, timeout=30)
            sidecar = instance.browser_endpoint.replace(f"{instance.ref}-browser@", "")
            health = httpx.get(f"{sidecar}/health", timeout=10)
            # The session's own token does not open the sidecar's Ship, nor the reverse.
            main_token = {"Authorization": f"Bearer {driver.ship_token(instance.endpoint)}"}
            browser_token = driver.ship_token(instance.browser_endpoint)
            crossed = httpx.post(f"{sidecar}/browser/close", headers=main_token, timeout=10)
            no_shell = httpx.post(
                f"{sidecar}/shell/exec",
                json={"command": "id"},
                headers={"Authorization": f"Bearer {browser_token}"},
                timeout=10,
            )
        finally:
            await driver.stop(spec.labels.session_id)
            await driver.close()

    assert instance.browser_endpoint.startswith(f"http://{instance.ref}-browser@")
    assert instance.browser_endpoint.endswith(":8124")
    assert health.json()["browser"] is True
    assert closed.closed is False
    assert crossed.status_code == 401
    assert no_shell.status_code == 404  # the sidecar's Ship has the browser's routes only
