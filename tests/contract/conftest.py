"""Black-box fixtures: a Bay reached only over HTTP (SHIPYARD_URL, or one started here)."""

import os
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.bay_process import API_KEY, BayProcess, local_driver_missing, traversable_tmp

PROFILES = {
    "profiles": [
        {"id": "python-default"},
        {"id": "python-only", "capabilities": ["python"]},
        {
            "id": "browser-python",
            "containers": [
                {"name": "ship", "capabilities": ["filesystem", "shell", "python"]},
                {"name": "browser", "runtime_type": "browser", "capabilities": ["browser"]},
            ],
        },
    ]
}


@dataclass(frozen=True)
class Target:
    url: str
    api_key: str

    def client(self, api_key: str | None = None, timeout: float = 120) -> httpx.Client:
        headers = {"Authorization": f"Bearer {api_key or self.api_key}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)


@pytest.fixture(scope="session")
def target() -> Iterator[Target]:
    url = os.environ.get("SHIPYARD_URL")
    if url:
        yield Target(url, os.environ["SHIPYARD_API_KEY"])
        return
    missing = local_driver_missing()
    if missing:
        pytest.skip(f"no SHIPYARD_URL and the local driver cannot run here: {missing}")
    with traversable_tmp() as base:
        server = BayProcess(base / "data", PROFILES)
        server.start()
        try:
            yield Target(server.url, API_KEY)
        finally:
            _delete_everything(server)
            server.stop()


def _delete_everything(server: BayProcess) -> None:
    with server.client() as client:
        for item in client.get("/v1/sandboxes", params={"limit": 200}).json()["items"]:
            client.delete(f"/v1/sandboxes/{item['id']}")
        for item in client.get("/v1/cargos", params={"limit": 200}).json()["items"]:
            client.delete(f"/v1/cargos/{item['id']}")


@pytest.fixture(scope="session")
def http(target: Target) -> Iterator[httpx.Client]:
    with target.client() as client:
        yield client


@pytest.fixture
def sandbox_id(http: httpx.Client) -> Iterator[str]:
    created = http.post("/v1/sandboxes", json={})
    assert created.status_code == 201, created.text
    yield str(created.json()["id"])
    http.delete(f"/v1/sandboxes/{created.json()['id']}")
