"""A real Bay on the Docker driver: what `docker inspect` shows, kill and reconcile."""

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.bay_process import BayProcess, traversable_tmp
from tests.engines import unavailable

pytestmark = [pytest.mark.docker]


@pytest.fixture(scope="module", params=["docker", "docker+runsc"])
def bay(request: pytest.FixtureRequest) -> Iterator[tuple[BayProcess, str]]:
    reason = unavailable(request.param)
    if reason:
        pytest.skip(reason)
    profile = "python-gvisor" if request.param == "docker+runsc" else "python-default"
    with traversable_tmp() as base:
        server = BayProcess(base / "data", {"gc": {"enabled": False}}, driver="docker")
        server.start()
        yield server, profile
        with server.client() as client:
            for item in client.get("/v1/sandboxes", params={"limit": 200}).json()["items"]:
                client.delete(f"/v1/sandboxes/{item['id']}")
        server.stop()


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout


def containers(sandbox_id: str) -> list[str]:
    found = docker("ps", "-aq", "--filter", f"label=bay.sandbox_id={sandbox_id}")
    return found.split()


def run(client: httpx.Client, sandbox_id: str, kind: str, text: str) -> dict[str, Any]:
    field = "code" if kind == "python" else "command"
    response = client.post(f"/v1/sandboxes/{sandbox_id}/{kind}/exec", json={field: text})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_container_is_hardened_and_labelled(bay: tuple[BayProcess, str]) -> None:
    server, profile = bay
    with server.client() as client:
        sandbox_id = client.post("/v1/sandboxes", json={"profile": profile}).json()["id"]
        assert run(client, sandbox_id, "shell", "whoami")["output"] == "shipyard"
        assert run(client, sandbox_id, "python", "21 * 2")["output"] == "42"
    (container,) = containers(sandbox_id)
    info = json.loads(docker("inspect", container))[0]
    host = info["HostConfig"]
    assert info["Config"]["User"] == "1000:1000"
    assert host["CapDrop"] == ["ALL"]
    assert host["ReadonlyRootfs"] is True
    assert host["NetworkMode"] == "none"
    assert "no-new-privileges" in host["SecurityOpt"]
    assert (host["Memory"], host["PidsLimit"]) == (1024**3, 512)
    assert info["Config"]["Labels"]["bay.sandbox_id"] == sandbox_id
    if profile == "python-gvisor":
        assert host["Runtime"] == "runsc"


def test_files_survive_docker_kill(bay: tuple[BayProcess, str]) -> None:
    server, profile = bay
    with server.client() as client:
        sandbox_id = client.post("/v1/sandboxes", json={"profile": profile}).json()["id"]
        run(client, sandbox_id, "python", "state = 1; open('kept.txt', 'w').write('kept')")
        (container,) = containers(sandbox_id)
        docker("kill", container)
        after = run(client, sandbox_id, "python", "open('kept.txt').read()")
        assert after["output"] == "'kept'"
        assert after["kernel_restarted"] is True


def test_restarted_bay_removes_a_container_without_a_session_row(
    bay: tuple[BayProcess, str],
) -> None:
    server, profile = bay
    with server.client() as client:
        sandbox_id = client.post("/v1/sandboxes", json={"profile": profile}).json()["id"]
        run(client, sandbox_id, "shell", "true")
    assert len(containers(sandbox_id)) == 1
    server.stop()
    database = server.data_dir / "bay.db"
    subprocess.run([sys.executable, "-c", _DROP_SESSIONS, str(database), sandbox_id], check=True)
    server.start()
    assert containers(sandbox_id) == []


_DROP_SESSIONS = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("DELETE FROM sessions WHERE sandbox_id = ?", (sys.argv[2],))
db.commit()
"""
