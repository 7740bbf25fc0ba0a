"""The Docker driver's container-IP endpoint, no dockerd needed: tokens, config, networks."""

import hashlib
import stat
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from bay.config import DockerDriverSettings
from bay.drivers.base import (
    BrowserSpec,
    DriverError,
    InstanceStartError,
    Labels,
    Limits,
    SessionSpec,
)
from bay.drivers.docker import DockerDriver
from bay.drivers.docker_container import browser_config, container_config
from bay.drivers.docker_network import (
    ICC_OPTION,
    TcpChannel,
    check_network,
    endpoint_session,
    network_config,
    tcp_endpoint,
)
from bay.drivers.ship_tokens import SECRET_FILE, ShipTokens
from bay.egress.launch import Egress
from bay.ship_client import ShipClient
from shipyard_protocol.api import NetworkPolicy

ENDPOINT = tcp_endpoint("ses-1", "10.0.0.2")


def spec(tmp_path: Path, network: str = "none") -> SessionSpec:
    labels = Labels("owner", "sbx-1", "ses-1", "ws-1", "python-default", "bay")
    egress = Egress(NetworkPolicy.model_validate({"egress": network}))
    return SessionSpec(labels, str(tmp_path / "cargo"), Limits(1, 0, 0), egress=egress)


class TestShipTokens:
    def test_a_secret_is_made_once_with_mode_0600(self, tmp_path: Path) -> None:
        first = ShipTokens.load(None, tmp_path).token("ses-1")

        again = ShipTokens.load(None, tmp_path).token("ses-1")

        assert first == again
        assert stat.S_IMODE((tmp_path / SECRET_FILE).stat().st_mode) == 0o600

    def test_each_session_has_its_own_token(self, tmp_path: Path) -> None:
        tokens = ShipTokens.load(None, tmp_path)

        assert tokens.token("ses-1") != tokens.token("ses-2")

    def test_ship_gets_the_digest_of_the_token(self, tmp_path: Path) -> None:
        tokens = ShipTokens.load(None, tmp_path)

        expected = hashlib.sha256(tokens.token("ses-1").encode()).hexdigest()
        assert tokens.digest("ses-1") == expected

    def test_a_configured_secret_wins_and_nothing_is_written(self, tmp_path: Path) -> None:
        configured = ShipTokens.load(SecretStr("s" * 40), tmp_path)

        assert configured.token("ses-1") == ShipTokens(b"s" * 40).token("ses-1")
        assert not (tmp_path / SECRET_FILE).exists()
        assert "s" * 40 not in repr(configured)

    def test_an_empty_secret_file_is_refused(self, tmp_path: Path) -> None:
        (tmp_path / SECRET_FILE).write_text("\n")

        with pytest.raises(DriverError, match="no usable secret"):
            ShipTokens.load(None, tmp_path)


class TestEndpoints:
    def test_the_session_is_the_user_part(self) -> None:
        assert ENDPOINT == "http://ses-1@10.0.0.2:8123"
        assert endpoint_session(ENDPOINT) == "ses-1"
        assert endpoint_session("unix:/run/ship.sock") is None

    def test_the_driver_gives_the_token_of_the_named_session(self, tmp_path: Path) -> None:
        driver = DockerDriver(DockerDriverSettings(), tmp_path, "bay")

        assert driver.ship_token(ENDPOINT) == ShipTokens.load(None, tmp_path).token("ses-1")
        assert driver.ship_token("unix:/run/ship.sock") is None


class TestShipClient:
    async def test_sends_the_token_only_where_one_is_given(self) -> None:
        seen: list[str | None] = []

        async def ship_app(scope: Scope, receive: Receive, send: Send) -> None:
            seen.append(dict(scope["headers"]).get(b"authorization", b"").decode() or None)
            body = {"version": "1", "kernel_generation": 0}
            await JSONResponse(body)(scope, receive, send)

        fake = httpx.ASGITransport(app=ship_app)
        tokens = {ENDPOINT: "t0ken"}
        async with ShipClient({ENDPOINT: fake, "unix:/s": fake}, tokens.get) as ship:
            await ship.health(ENDPOINT)
            await ship.health("unix:/s")

        assert seen == ["Bearer t0ken", None]


class TestContainerConfig:
    def test_tcp_ship_joins_the_network_with_the_digest_only(self, tmp_path: Path) -> None:
        tcp = TcpChannel("bay-net", "d" * 64, shared_run=True)

        config = container_config(spec(tmp_path), tmp_path / "run", 64, tcp)

        env = dict(item.split("=", 1) for item in config["Env"])
        assert config["HostConfig"]["NetworkMode"] == "bay-net"
        assert env["SHIP_TOKEN_SHA256"] == "d" * 64
        assert "SHIP_TOKEN" not in env
        assert (env["SHIP_SOCKET"], env["SHIP_HOST"], env["SHIP_PORT"]) == ("", "0.0.0.0", "8123")
        assert env["SHIP_READY_FILE"] == "/run/ship/ready"
        assert f"{tmp_path / 'run'}:/run/ship:rw" in config["HostConfig"]["Binds"]

    def test_a_remote_engine_gets_no_run_dir(self, tmp_path: Path) -> None:
        tcp = TcpChannel("bay-net", "d" * 64, shared_run=False)

        config = container_config(spec(tmp_path), tmp_path / "run", 64, tcp)

        assert len(config["HostConfig"]["Binds"]) == 1
        assert not any(item.startswith("SHIP_READY_FILE=") for item in config["Env"])

    def test_socket_mode_has_no_network_even_with_internet(self, tmp_path: Path) -> None:
        """Its egress passes the proxy Bay starts in its namespace, never a bridge's route."""
        config = container_config(spec(tmp_path, network="internet"), tmp_path / "run", 64)

        assert config["HostConfig"]["NetworkMode"] == "none"
        assert "SHIPYARD_NETWORK=internet" in config["Env"]
        assert "SHIP_SOCKET=/run/ship/ship.sock" in config["Env"]
        assert not any(item.startswith("SHIP_TOKEN") for item in config["Env"])


class TestNetworkCheck:
    def test_bays_own_network_passes(self) -> None:
        made = network_config("n")
        check_network("n", {**made, "Labels": made["Labels"]})

    @pytest.mark.parametrize(
        ("change", "problem"),
        [
            ({"Labels": {}}, "not labelled as Bay's"),
            ({"Options": {ICC_OPTION: "true"}}, "inter-container traffic on"),
            ({"Options": {}}, "inter-container traffic on"),
            ({"Internal": False}, "not internal"),
            ({"Driver": "overlay"}, "not a bridge"),
        ],
    )
    def test_a_network_sandboxes_could_escape_is_refused(
        self, change: dict[str, object], problem: str
    ) -> None:
        with pytest.raises(InstanceStartError, match=problem):
            check_network("n", {**network_config("n"), **change})


class TestBrowserSidecarConfig:
    def test_only_the_sidecar_launches_the_browser_and_only_ship_boots_the_kernel(
        self, tmp_path: Path
    ) -> None:
        env = {"SHIP_PRESTART_BROWSER": "1", "SHIP_PRESTART_KERNEL": "1", "MINE": "kept"}
        browser = BrowserSpec(Limits(1, 0, 0))
        session = replace(spec(tmp_path), env=env, browser=browser)

        primary = container_config(session, tmp_path, 64)["Env"]
        sidecar = browser_config(session, browser, tmp_path, 64, "shipyard-ses-1")["Env"]

        assert "SHIP_PRESTART_BROWSER=1" not in primary
        assert "SHIP_PRESTART_KERNEL=1" in primary
        assert "SHIP_PRESTART_BROWSER=1" in sidecar
        assert "SHIP_PRESTART_KERNEL=1" not in sidecar
        assert "MINE=kept" in primary
        assert "MINE=kept" in sidecar
