"""The warm pool on the local driver: a claimed sandbox answers its first exec without a start."""

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.bay_process import BayProcess, local_driver_missing, traversable_tmp

pytestmark = [pytest.mark.local]

SKIP_REASON = local_driver_missing()
if SKIP_REASON:
    pytestmark.append(pytest.mark.skip(reason=SKIP_REASON))

CONFIG = {
    "gc": {"enabled": False},
    "warm_pool": {"interval_seconds": 3600},
    "profiles": [{"id": "python-default", "warm_pool_size": 1}],
}


@pytest.fixture(scope="module")
def bay() -> Iterator[BayProcess]:
    with traversable_tmp() as base:
        server = BayProcess(base / "data", CONFIG)
        server.start()
        try:
            yield server
        finally:
            server.stop()


def wait_for_depth(client: httpx.Client, depth: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pool = client.get("/v1/admin/gc/status").json()["warm_pool"]
        if pool["profiles"]["python-default"]["available"] == depth:
            return
        time.sleep(0.1)
    raise AssertionError(f"the pool did not reach depth {depth}: {pool}")


def sessions(data_dir: Path, sandbox_id: str | None = None) -> set[str]:
    """Session run dirs of the local driver, all or only one sandbox's."""
    found = set()
    for run in (data_dir / "run").iterdir():
        record = run / "session.json"
        labels = json.loads(record.read_text())["labels"] if record.exists() else {}
        if sandbox_id in (None, labels.get("bay.sandbox_id")):
            found.add(run.name)
    return found


def test_warm_create_runs_python_without_starting_a_session(bay: BayProcess) -> None:
    with bay.client() as client:
        wait_for_depth(client, 1)
        before = sessions(bay.data_dir)
        sandbox = client.post("/v1/sandboxes", json={}).json()["id"]
        result = client.post(f"/v1/sandboxes/{sandbox}/python/exec", json={"code": "print(1)"})
        assert result.json()["output"] == "1"
        own = sessions(bay.data_dir, sandbox)
        assert len(own) == 1
        assert own <= before  # the session it had in the pool, not a new one
        wait_for_depth(client, 1)  # refilled after the claim, not at the next tick
        assert len(sessions(bay.data_dir)) == 2
        assert client.delete(f"/v1/sandboxes/{sandbox}").status_code == 204


def test_shutdown_deletes_the_members(bay: BayProcess) -> None:
    bay.stop()
    assert sessions(bay.data_dir) == set()
