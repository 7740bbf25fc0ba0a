"""Sandbox ports through a real Bay on every driver: HTTP both ways, WebSocket, tunnels,
signed links, and the errors around them. Everything stays on loopback and in sandboxes."""

import hashlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.bay_process import API_KEY, BayProcess, clean_up, traversable_tmp
from tests.engines import IMAGE, VARIANT_PARAMS, require

SERVERS = (Path(__file__).parent / "port_servers.py").read_text()
BIG = 50 * 1024 * 1024
FILES, HASH, ECHO = 8000, 8001, 8002
CLOSED = 8009
SHIP_PORT = 8123  # Ship's port when it listens on TCP (container_ip)
CONTAINER_IP = pytest.param("docker-container-ip", marks=pytest.mark.docker)


@dataclass(frozen=True)
class Setup:
    variant: str
    bay: BayProcess
    client: httpx.Client
    sandbox_id: str
    big_sha256: str

    def port(self, port: int, path: str = "") -> str:
        return f"/v1/sandboxes/{self.sandbox_id}/ports/{port}/{path}"

    def ws(self, path: str) -> str:
        return self.bay.url.replace("http", "ws", 1) + path


@pytest.fixture(scope="module", params=[*VARIANT_PARAMS, CONTAINER_IP])
def setup(request: pytest.FixtureRequest) -> Iterator[Setup]:
    variant = request.param
    require("docker" if variant == "docker-container-ip" else variant)
    config, networks = _config(variant)
    with traversable_tmp() as base:
        bay = BayProcess(base / "data", config, "local" if variant == "local" else "docker")
        bay.start()
        try:
            with bay.client(timeout=300) as client:
                sandbox_id, digest = _serving_sandbox(client)
                yield Setup(variant, bay, client, sandbox_id, digest)
        finally:
            clean_up(bay, networks)


def _config(variant: str) -> tuple[dict[str, Any], list[str]]:
    profile = {"id": "python-default", "image": IMAGE}
    if variant == "docker+runsc":
        profile["runtime"] = "runsc"
    config: dict[str, Any] = {"gc": {"enabled": False}, "profiles": [profile]}
    if variant != "docker-container-ip":
        return config, []
    suffix = uuid.uuid4().hex[:8]
    network = f"shipyard-ports-{suffix}"
    config["driver"] = {"docker": {"endpoint": "container_ip", "network": network}}
    return config, [network]


def _serving_sandbox(client: httpx.Client) -> tuple[str, str]:
    """A sandbox serving its workspace (with a 50 MB file), a hasher and a WebSocket echo."""
    created = client.post("/v1/sandboxes", json={})
    assert created.status_code == 201, created.text
    sandbox_id = created.json()["id"]
    base = f"/v1/sandboxes/{sandbox_id}"
    client.put(f"{base}/filesystem/files", json={"path": "servers.py", "content": SERVERS})
    made = shell(client, sandbox_id, f"head -c {BIG} /dev/urandom > big.bin && sha256sum big.bin")
    for command in (
        f"python3 -m http.server {FILES} --bind 127.0.0.1",
        f"python3 servers.py hash {HASH}",
        f"python3 servers.py echo {ECHO}",
    ):
        started = client.post(f"{base}/processes", json={"command": command})
        assert started.status_code == 201, started.text
    wait = "; ".join(
        f"python3 -c 'import socket,time\nwhile True:\n  try: socket.create_connection"
        f'(("127.0.0.1", {port})).close(); break\n  except OSError: time.sleep(0.05)\''
        for port in (FILES, HASH, ECHO)
    )
    shell(client, sandbox_id, wait)
    return sandbox_id, made.split()[0]


def shell(client: httpx.Client, sandbox_id: str, command: str) -> str:
    body = {"command": command, "timeout": 120}
    response = client.post(f"/v1/sandboxes/{sandbox_id}/shell/exec", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["exit_code"] == 0, response.json()
    return str(response.json()["output"])


def until(check: Any, seconds: float = 60) -> Any:
    """`check()`'s first truthy answer, polled until `seconds` pass."""
    deadline = time.monotonic() + seconds
    while not (answer := check()):
        assert time.monotonic() < deadline, "the awaited event did not come"
        time.sleep(0.05)
    return answer


def error(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


class TestHttp:
    def test_a_50_mb_file_arrives_byte_for_byte(self, setup: Setup) -> None:
        digest, size = hashlib.sha256(), 0
        with setup.client.stream("GET", setup.port(FILES, "big.bin")) as response:
            assert response.status_code == 200
            assert response.headers["content-length"] == str(BIG)
            for chunk in response.iter_raw():
                digest.update(chunk)
                size += len(chunk)
        assert (size, digest.hexdigest()) == (BIG, setup.big_sha256)

    def test_the_port_without_a_slash_redirects_to_it(self, setup: Setup) -> None:
        answer = setup.client.get(setup.port(FILES).rstrip("/"), params={"a": "1"})
        assert answer.status_code == 307
        assert answer.headers["location"].endswith(f"/ports/{FILES}/?a=1")
        listing = setup.client.get(setup.port(FILES))
        assert listing.status_code == 200
        assert "big.bin" in listing.text

    def test_a_server_error_status_passes_through(self, setup: Setup) -> None:
        answer = setup.client.get(setup.port(FILES, "missing.txt"))
        assert answer.status_code == 404
        assert "error" not in answer.text[:20]  # http.server's page, not Bay's body

    def test_a_request_body_streams_to_the_server(self, setup: Setup) -> None:
        piece = bytes(range(256)) * 4096

        def body() -> Iterator[bytes]:
            for _ in range(20):
                yield piece

        expected = f"{hashlib.sha256(piece * 20).hexdigest()} {len(piece) * 20}"
        for headers in ({"content-length": str(len(piece) * 20)}, {}):  # sized, then chunked
            answer = setup.client.post(setup.port(HASH), content=body(), headers=headers)
            assert (answer.status_code, answer.text) == (200, expected)

    def test_a_proxied_request_renews_the_idle_lease(self, setup: Setup) -> None:
        path = f"/v1/sandboxes/{setup.sandbox_id}"
        before = setup.client.get(path).json()["idle_expires_at"]

        def renewed() -> bool:
            setup.client.get(setup.port(FILES))
            return bool(setup.client.get(path).json()["idle_expires_at"] > before)

        until(renewed)


class TestErrors:
    def test_a_port_nobody_listens_on_is_502_naming_it(self, setup: Setup) -> None:
        answer = setup.client.get(setup.port(CLOSED))
        assert answer.status_code == 502
        body = error(answer)
        assert body["code"] == "ship_error"
        assert f"port {CLOSED}" in body["message"]
        assert body["details"]["port"] == CLOSED

    @pytest.mark.parametrize("port", ["0", "65536", "http"])
    def test_an_invalid_port_is_400(self, setup: Setup, port: str) -> None:
        answer = setup.client.get(f"/v1/sandboxes/{setup.sandbox_id}/ports/{port}/")
        assert answer.status_code == 400
        assert error(answer)["code"] == "validation_error"

    def test_ships_own_port_is_refused_where_ship_listens_on_tcp(self, setup: Setup) -> None:
        answer = setup.client.get(setup.port(SHIP_PORT))
        on_tcp = setup.variant == "docker-container-ip"
        assert answer.status_code == (400 if on_tcp else 502)  # else nothing listens there

    def test_no_key_is_401(self, setup: Setup) -> None:
        answer = httpx.get(setup.bay.url + setup.port(FILES))
        assert answer.status_code == 401

    def test_another_tenant_gets_404(self, setup: Setup) -> None:
        created = setup.client.post("/v1/admin/keys", json={"owner": "stranger"})
        key = created.json()["api_key"]
        with httpx.Client(base_url=setup.bay.url, headers=_bearer(key)) as stranger:
            assert stranger.get(setup.port(FILES)).status_code == 404
            assert stranger.post(setup.port(FILES, "url"), json={}).status_code == 404
        with pytest.raises(InvalidStatus) as refused:
            connect(setup.ws(setup.port(ECHO)), additional_headers=_bearer(key))
        assert refused.value.response.status_code == 404

    def test_a_stopped_sandbox_is_409(self, setup: Setup) -> None:
        created = setup.client.post("/v1/sandboxes", json={})
        sandbox_id = created.json()["id"]
        try:
            shell(setup.client, sandbox_id, "true")
            setup.client.post(f"/v1/sandboxes/{sandbox_id}/stop")
            answer = setup.client.get(f"/v1/sandboxes/{sandbox_id}/ports/{FILES}/")
            assert answer.status_code == 409
            assert error(answer)["details"] == {"sandbox_id": sandbox_id, "port": FILES}
        finally:
            setup.client.delete(f"/v1/sandboxes/{sandbox_id}")


class TestWebSocket:
    def test_messages_echo_through_the_proxy(self, setup: Setup) -> None:
        url = setup.ws(setup.port(ECHO, "chat"))
        with connect(url, additional_headers=_bearer(API_KEY), compression=None) as ws:
            ws.send("ahoy")
            assert ws.recv(timeout=60) == "ahoy"
            ws.send(b"\x00\xff" * 40_000)
            assert ws.recv(timeout=60) == b"\x00\xff" * 40_000

    def test_a_port_nobody_listens_on_refuses_the_handshake_with_502(self, setup: Setup) -> None:
        with pytest.raises(InvalidStatus) as refused:
            connect(setup.ws(setup.port(CLOSED)), additional_headers=_bearer(API_KEY))
        assert refused.value.response.status_code == 502
        assert f"port {CLOSED}".encode() in (refused.value.response.body or b"")

    def test_a_tunnel_carries_raw_tcp(self, setup: Setup) -> None:
        url = setup.ws(f"/v1/sandboxes/{setup.sandbox_id}/tunnels/{FILES}")
        with connect(url, additional_headers=_bearer(API_KEY)) as tunnel:
            tunnel.send(b"HEAD /big.bin HTTP/1.0\r\n\r\n")
            answer = b""
            for frame in tunnel:
                answer += frame if isinstance(frame, bytes) else frame.encode()
        assert answer.startswith(b"HTTP/1.0 200")
        assert f"Content-Length: {BIG}".encode() in answer


class TestPortForward:
    def test_a_local_port_reaches_the_sandbox_server(self, setup: Setup) -> None:
        with _port_forward(setup, FILES) as local:
            digest = hashlib.sha256()
            with httpx.stream("GET", f"http://127.0.0.1:{local}/big.bin", timeout=120) as got:
                assert got.status_code == 200
                for chunk in got.iter_raw():
                    digest.update(chunk)
            assert digest.hexdigest() == setup.big_sha256

    def test_a_half_closed_client_still_reads_the_answer(self, setup: Setup) -> None:
        with (
            _port_forward(setup, FILES) as local,
            socket.create_connection(("127.0.0.1", local), timeout=60) as raw,
        ):
            raw.sendall(b"HEAD /big.bin HTTP/1.0\r\n\r\n")
            raw.shutdown(socket.SHUT_WR)
            answer = b"".join(iter(lambda: raw.recv(65536), b""))
        assert answer.startswith(b"HTTP/1.0 200")


@contextmanager
def _port_forward(setup: Setup, port: int) -> Iterator[int]:
    """`shipyard port-forward SANDBOX PORT 0` running; yields the local port it printed."""
    env = {**os.environ, "SHIPYARD_ENDPOINT": setup.bay.url, "SHIPYARD_API_KEY": API_KEY}
    argv = [sys.executable, "-c", "from shipyard.cli import app; app()"]
    argv += ["port-forward", setup.sandbox_id, str(port), "0"]
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as cli:
        try:
            assert cli.stdout is not None
            line = cli.stdout.readline().decode()
            assert line.startswith("Forwarding 127.0.0.1:"), cli.communicate()[1]
            yield int(line.split()[1].split(":")[1])
        finally:
            cli.terminate()
            cli.communicate(timeout=30)


class TestSignedUrl:
    def test_the_link_opens_the_port_without_a_key(self, setup: Setup) -> None:
        made = setup.client.post(setup.port(FILES, "url"), json={"expires_in": 600})
        assert made.status_code == 200, made.text
        url = made.json()["url"]
        with httpx.Client() as browser:
            first = browser.get(url)
            assert first.status_code == 200
            assert "big.bin" in first.text
            assert first.headers["set-cookie"].startswith("shipyard_port_token=")
            later = browser.head(setup.bay.url + setup.port(FILES, "big.bin"))  # the cookie
            assert later.status_code == 200
        without_slash = url.replace(f"/ports/{FILES}/?", f"/ports/{FILES}?")
        redirected = httpx.get(without_slash, follow_redirects=True)
        assert (redirected.status_code, redirected.url.path) == (200, setup.port(FILES))
        with httpx.Client() as stranger:
            assert stranger.get(setup.bay.url + setup.port(FILES)).status_code == 401

    def test_the_link_opens_no_other_port(self, setup: Setup) -> None:
        url = setup.client.post(setup.port(FILES, "url"), json={}).json()["url"]
        other = url.replace(f"/ports/{FILES}/", f"/ports/{HASH}/")
        answer = httpx.post(other, content=b"x")
        assert answer.status_code == 401
        assert "does not open" in error(answer)["message"]

    def test_the_link_stops_working_when_it_expires(self, setup: Setup) -> None:
        made = setup.client.post(setup.port(FILES, "url"), json={"expires_in": 4}).json()
        assert httpx.get(made["url"]).status_code == 200
        expired = until(lambda: (r := httpx.get(made["url"])).status_code == 401 and r, 30)
        assert "expired" in error(expired)["message"]

    def test_expiry_has_a_ceiling(self, setup: Setup) -> None:
        answer = setup.client.post(setup.port(FILES, "url"), json={"expires_in": 10**9})
        assert answer.status_code == 422


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
