"""Network policies through a real Bay on every driver, against the lab (`lab.py`): what each
policy lets a sandbox reach, and what no policy does. Bay runs each sandbox's proxy in the
lab's `host` namespace, so no packet of these tests leaves the machine."""

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

import shipyard
from tests.bay_process import API_KEY, BayProcess, clean_up, traversable_tmp
from tests.engines import IMAGE, require
from tests.network import lab

pytestmark = pytest.mark.timeout(900)

NETWORKED = [
    pytest.param("local", marks=pytest.mark.local),
    pytest.param("docker", marks=pytest.mark.docker),
    pytest.param("docker-container-ip", marks=pytest.mark.docker),
]
ALLOW = {
    "egress": "allow",
    "allow": ["allowed.test", "*.allowed.test", "flip.test", f"{lab.OTHER_PUBLIC}/32"],
}
CAP_MBIT = 8.0  # 1 MB/s each way
PROFILES: list[dict[str, Any]] = [
    {"id": "offline"},
    {"id": "internet", "network": "internet", "network_bandwidth_mbit": None},
    {"id": "allow", "network": ALLOW},
    {"id": "capped", "network": "internet", "network_bandwidth_mbit": CAP_MBIT},
    {"id": "deny", "network": {"egress": "internet", "deny": ["other.test"]}},
    {
        "id": "deny-browser",
        "network": {"egress": "internet", "deny": ["other.test"]},
        "containers": [
            {"name": "ship", "capabilities": ["filesystem", "shell", "python"]},
            {
                "name": "browser",
                "runtime_type": "browser",
                "capabilities": ["browser"],
                "resources": {"memory": "2g"},
            },
        ],
    },
]


@dataclass(frozen=True)
class Setup:
    variant: str
    bay: BayProcess
    client: httpx.Client

    def create(self, profile: str, **body: Any) -> str:
        created = self.client.post("/v1/sandboxes", json={"profile": profile, **body})
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    def shell(self, sandbox_id: str, command: str) -> dict[str, Any]:
        body = {"command": command, "timeout": 120}
        response = self.client.post(f"/v1/sandboxes/{sandbox_id}/shell/exec", json=body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        result["output"] = (result.get("output") or "") + (result.get("error") or "")
        return result

    def curl(self, sandbox_id: str, url: str) -> dict[str, Any]:
        return self.shell(sandbox_id, f"curl -sS -k --max-time 20 {url}")


@pytest.fixture(scope="module", params=NETWORKED)
def setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    yield from _setup(request.param, tmp_path_factory)


@pytest.fixture(scope="module", params=[pytest.param("docker+runsc", marks=pytest.mark.docker)])
def gvisor(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    yield from _setup(request.param, tmp_path_factory)


def _setup(variant: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    require("docker" if variant == "docker-container-ip" else variant)
    reason = lab.available()
    if reason is not None:
        pytest.fail(f"the network lab cannot be built: {reason}")
    with lab.lab(tmp_path_factory.mktemp("lab")) as built, traversable_tmp() as base:
        config, networks = _config(variant, built)
        bay = BayProcess(base / "data", config, "local" if variant == "local" else "docker")
        bay.start()
        try:
            with bay.client(timeout=300) as client:
                yield Setup(variant, bay, client)
        finally:
            clean_up(bay, networks)


def _config(variant: str, built: lab.Lab) -> tuple[dict[str, Any], list[str]]:
    runtime = {"runtime": "runsc"} if variant == "docker+runsc" else {}
    profiles = [{**profile, "image": IMAGE, **runtime} for profile in PROFILES]
    egress = {"egress": {"namespace": built.host}}
    driver: dict[str, Any] = {"local": egress, "docker": dict(egress)}
    networks = []
    if variant == "docker-container-ip":
        network = f"shipyard-egress-{uuid.uuid4().hex[:8]}"
        driver["docker"].update(endpoint="container_ip", network=network)
        networks.append(network)
    config = {"gc": {"enabled": False}, "profiles": profiles, "driver": driver}
    return config, networks


def test_no_network_fails_fast_with_no_route(setup: Setup) -> None:
    _fails_fast_offline(setup)


def test_gvisor_fails_fast_offline(gvisor: Setup) -> None:
    _fails_fast_offline(gvisor)


def test_gvisor_refuses_a_network_it_cannot_give(gvisor: Setup) -> None:
    """gVisor here runs with --network=none: a networked profile's sandbox says so."""
    sandbox_id = gvisor.create("internet")
    response = gvisor.client.post(
        f"/v1/sandboxes/{sandbox_id}/shell/exec", json={"command": "true"}
    )
    assert response.status_code >= 500, response.text
    assert "--network=none" in response.text, response.text


def _fails_fast_offline(setup: Setup) -> None:
    sandbox_id = setup.create("offline")
    started = time.monotonic()
    connect = setup.shell(
        sandbox_id,
        "python3 -c 'import socket; socket.create_connection((\"203.0.113.10\", 80), timeout=10)'",
    )
    resolve = setup.shell(sandbox_id, "getent hosts allowed.test")
    elapsed = time.monotonic() - started
    assert connect["exit_code"] != 0
    assert any(no in connect["output"] for no in ("unreachable", "No route to host")), connect
    assert resolve["exit_code"] != 0, resolve
    assert elapsed < 8, f"no network must fail at once, took {elapsed:.1f} s"
    detail = setup.client.get(f"/v1/sandboxes/{sandbox_id}").json()
    assert detail["network"]["egress"] == "none"


def test_internet_reaches_the_public_address_by_ip_and_by_name(setup: Setup) -> None:
    sandbox_id = setup.create("internet")
    by_ip = setup.curl(sandbox_id, f"http://{lab.PUBLIC}/")
    by_name = setup.curl(sandbox_id, "https://allowed.test/")
    assert by_ip["output"].strip() == f"reached {lab.PUBLIC} as {lab.PUBLIC}", by_ip
    assert by_name["output"].strip() == f"reached {lab.PUBLIC} as allowed.test", by_name


@pytest.mark.parametrize(
    "target",
    [
        pytest.param(f"http://{lab.PRIVATE}/", id="private"),
        pytest.param("http://private.test/", id="private-by-name"),
        pytest.param(f"http://{lab.METADATA}/", id="metadata"),
        pytest.param("http://metadata.test/", id="metadata-by-name"),
        pytest.param(f"http://{lab.HOST_ADDRESS}:8080/", id="host-address"),
        pytest.param("http://127.0.0.1:8080/", id="loopback"),
        pytest.param("http://10.0.2.2:8080/", id="gateway-guess"),
    ],
)
def test_internet_never_reaches_the_always_denied(setup: Setup, target: str) -> None:
    sandbox_id = setup.create("internet")
    result = setup.curl(sandbox_id, target)
    assert result["exit_code"] != 0 or "blocked by" in result["output"], result
    assert "reached" not in result["output"], result


def test_internet_never_reaches_bay_or_another_sandbox(setup: Setup) -> None:
    sandbox_id = setup.create("internet")
    other = setup.create("internet")
    serving = setup.client.post(
        f"/v1/sandboxes/{other}/processes",
        json={"command": "python3 -m http.server 8000 --bind 0.0.0.0"},
    )
    assert serving.status_code == 201, serving.text
    # Its address on Docker's TCP channel; else the one every local sandbox gives itself.
    address = (setup.shell(other, "hostname -I")["output"].split() or ["10.0.2.15"])[0]
    for target in (
        f"http://{address}:8000/",
        f"http://127.0.0.1:{setup.bay.port}/health",
        f"http://{lab.HOST_ADDRESS}:{setup.bay.port}/health",
    ):
        result = setup.curl(sandbox_id, target)
        assert result["exit_code"] != 0 or "blocked by" in result["output"], (target, result)


def test_deny_list_wins_over_internet(setup: Setup) -> None:
    sandbox_id = setup.create("deny")
    assert setup.curl(sandbox_id, "http://allowed.test/")["exit_code"] == 0
    denied = setup.curl(sandbox_id, "http://other.test/")
    assert "reached" not in denied["output"], denied


def test_the_browser_obeys_the_policy(setup: Setup) -> None:
    sandbox_id = setup.create("deny-browser")

    def page(url: str) -> str:
        body = {"commands": [f"open {url}", "get text body"], "timeout": 300}
        response = setup.client.post(f"/v1/sandboxes/{sandbox_id}/browser/exec_batch", json=body)
        assert response.status_code == 200, response.text
        return "\n".join(step["stdout"] + step["stderr"] for step in response.json()["results"])

    assert "reached" in page("http://allowed.test/")
    assert "reached" not in page("http://other.test/")


def test_allow_list_opens_its_domains_over_http_and_https(setup: Setup) -> None:
    sandbox_id = setup.create("allow")
    for url in ("http://allowed.test/", "https://allowed.test/", "https://www.allowed.test/"):
        result = setup.curl(sandbox_id, url)
        assert result["exit_code"] == 0, (url, result)
        assert result["output"].startswith(f"reached {lab.PUBLIC} as "), (url, result)


def test_allow_list_refuses_other_names_raw_ips_and_rebinding(setup: Setup) -> None:
    sandbox_id = setup.create("allow")
    other = setup.curl(sandbox_id, "http://other.test/")
    assert "Could not resolve host" in other["output"], other
    raw = setup.curl(sandbox_id, f"http://{lab.PUBLIC}/")
    assert "blocked by the sandbox's network policy" in raw["output"], raw
    # A forged Host on a raw IP goes where the name resolves, never to the IP asked for.
    forged = setup.shell(
        sandbox_id, "curl -sS --max-time 20 -H 'Host: allowed.test' http://203.0.113.99/"
    )  # nothing listens at .99: only the proxy's resolving the name makes this answer
    assert forged["output"].strip() == f"reached {lab.PUBLIC} as allowed.test", forged
    flipped = setup.curl(sandbox_id, "http://flip.test/")  # public first, then private
    assert "reached" not in flipped["output"], flipped


def test_allow_list_cidr_carries_any_tcp(setup: Setup) -> None:
    """A server-first protocol (no name to read) on an allowed CIDR works."""
    sandbox_id = setup.create("allow")
    banner = setup.shell(
        sandbox_id,
        "python3 -c 'import socket; s = socket.create_connection"
        f'(("{lab.OTHER_PUBLIC}", 7000), timeout=20); print(s.recv(100).decode())\'',
    )
    assert banner["output"].strip() == f"banner from {lab.OTHER_PUBLIC}", banner


def test_traffic_is_counted_on_the_sandbox(setup: Setup) -> None:
    sandbox_id = setup.create("internet")
    size = 300_000
    fetched = setup.shell(
        sandbox_id,
        f"curl -sS -o /dev/null -w '%{{size_download}}' http://{lab.PUBLIC}/bytes/{size}",
    )
    assert fetched["output"].strip() == str(size), fetched
    network: dict[str, Any] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the proxy writes its counters once a second
        network = setup.client.get(f"/v1/sandboxes/{sandbox_id}").json()["network"]
        if network["bytes_in"] >= size:
            break
        time.sleep(0.2)
    assert size <= network["bytes_in"] < size + 4096, network
    assert 0 < network["bytes_out"] < 4096, network


def test_bandwidth_cap_holds(setup: Setup) -> None:
    sandbox_id = setup.create("capped")
    size = 3_000_000  # 3 MB at 1 MB/s: at least 2 s after the first second's burst
    fetched = setup.shell(
        sandbox_id,
        "curl -sS -o /dev/null -w '%{size_download} %{time_total}' "
        f"http://{lab.PUBLIC}/bytes/{size}",
    )
    downloaded, seconds = fetched["output"].split()
    assert int(downloaded) == size, fetched
    assert float(seconds) >= 1.8, f"{size} bytes in {seconds} s at {CAP_MBIT} Mbit/s"


def test_a_create_narrows_the_profile_and_never_widens_it(setup: Setup) -> None:
    narrowed = setup.create("allow", network={"egress": "allow", "allow": ["allowed.test"]})
    shown = setup.client.get(f"/v1/sandboxes/{narrowed}").json()["network"]
    assert (shown["egress"], shown["allow"]) == ("allow", ["allowed.test"])
    for profile, network in (
        ("allow", "internet"),
        ("allow", {"egress": "allow", "allow": ["other.test"]}),
        ("offline", "internet"),
    ):
        refused = setup.client.post("/v1/sandboxes", json={"profile": profile, "network": network})
        assert refused.status_code == 400, refused.text
        assert "network wider than profile" in refused.json()["error"]["message"]


def test_the_sdk_and_cli_narrow_and_show_the_policy(setup: Setup) -> None:
    with shipyard.Client(endpoint=setup.bay.url, api_key=API_KEY) as client:
        sandbox = client.sandboxes.create("allow", network="none")
        assert sandbox.info.network is not None
        assert sandbox.info.network.egress == "none"
    env = {**os.environ, "SHIPYARD_ENDPOINT": setup.bay.url, "SHIPYARD_API_KEY": API_KEY}
    argv = [sys.executable, "-c", "from shipyard.cli import app; app()", "sandbox", "create"]
    made = subprocess.run(
        [*argv, "--profile", "allow", "--network", "allowed.test, 203.0.113.20", "--json"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    network = json.loads(made.stdout)["network"]
    assert (network["egress"], network["allow"]) == ("allow", ["allowed.test", "203.0.113.20/32"])
    wider = subprocess.run(
        [*argv, "--profile", "allow", "--network", "internet"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert wider.returncode != 0
    assert "network wider than profile allow allows" in wider.stderr, wider.stderr
