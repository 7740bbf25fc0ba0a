"""A real Bay on the local driver, watched: a known workload moves the metrics by exactly that
much, and every JSON log line about a sandbox carries its id and no key or token."""

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.bay_process import API_KEY, BayProcess, local_driver_missing, traversable_tmp

pytestmark = [pytest.mark.local]

SKIP_REASON = local_driver_missing()
if SKIP_REASON:
    pytestmark.append(pytest.mark.skip(reason=SKIP_REASON))

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
CONFIG = {"logging": {"format": "json"}, "gc": {"enabled": False, "run_on_startup": False}}
EXEC = "/v1/sandboxes/{sandbox_id}"


@dataclass(frozen=True)
class Run:
    before: Samples
    after: Samples
    sandboxes: tuple[str, str]
    log: str

    def moved(self, name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return self.after.get(key, 0.0) - self.before.get(key, 0.0)


def scrape(client: httpx.Client) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def workload(client: httpx.Client) -> tuple[str, str]:
    """Two sandboxes, three Python and two shell execs, one 404, one GC cycle."""
    a, b = (client.post("/v1/sandboxes", json={}).json()["id"] for _ in range(2))
    for n in range(3):
        answer = client.post(f"/v1/sandboxes/{a}/python/exec", json={"code": f"print({n})"})
        assert answer.json()["success"] is True, answer.text
    for _ in range(2):
        answer = client.post(f"/v1/sandboxes/{b}/shell/exec", json={"command": "true"})
        assert answer.status_code == 200, answer.text
    assert client.get("/v1/sandboxes/sandbox-000000000000").status_code == 404
    assert client.post("/v1/admin/gc/run", json={}).status_code == 200
    return a, b


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    with traversable_tmp() as base:
        server = BayProcess(base / "data", CONFIG)
        server.start()
        try:
            with server.client() as client:
                before = scrape(client)
                sandboxes = workload(client)
                after = scrape(client)
                for sandbox_id in sandboxes:  # a stop drains Ship's log into Bay's
                    assert client.delete(f"/v1/sandboxes/{sandbox_id}").status_code == 204
        finally:
            server.stop()
        yield Run(before, after, sandboxes, server.log.read_text())


class TestMetrics:
    def test_requests_count_by_route_template_and_status(self, run: Run) -> None:
        requests = "bay_http_requests_total"
        assert run.moved(requests, method="POST", route="/v1/sandboxes", status="201") == 2
        python = f"{EXEC}/python/exec"
        assert run.moved(requests, method="POST", route=python, status="200") == 3
        assert run.moved(requests, method="POST", route=f"{EXEC}/shell/exec", status="200") == 2
        assert run.moved(requests, method="GET", route=EXEC, status="404") == 1
        latency = "bay_http_request_duration_seconds_count"
        assert run.moved(latency, method="POST", route=python) == 3

    def test_execs_and_session_starts_by_driver(self, run: Run) -> None:
        execs = "bay_exec_duration_seconds_count"
        assert run.moved(execs, kind="python", driver="local") == 3
        assert run.moved(execs, kind="shell", driver="local") == 2
        assert run.moved("bay_session_starts_total", driver="local") == 2
        assert run.moved("bay_session_start_duration_seconds_count", driver="local") == 2
        assert run.moved("bay_session_start_failures_total", driver="local") == 0

    def test_gauges_and_gc(self, run: Run) -> None:
        ready = ("bay_sandboxes", (("profile", "python-default"), ("status", "ready")))
        assert run.after[ready] == 2
        assert run.moved("bay_gc_runs_total") == 1
        assert ("bay_db_pool_connections_in_use", ()) in run.after
        assert not [key for key in run.after if any("sandbox-" in v for _, v in key[1])]


class TestLogs:
    def test_every_line_is_json_without_a_key_or_token(self, run: Run) -> None:
        lines = run.log.splitlines()
        assert lines
        for line in lines:
            json.loads(line)
        assert API_KEY not in run.log
        assert "Bearer sk" not in run.log

    def test_each_line_about_a_sandbox_carries_its_id(self, run: Run) -> None:
        records = [json.loads(line) for line in run.log.splitlines()]
        for sandbox_id in run.sandboxes:
            about = [r for r in records if sandbox_id in json.dumps(r)]
            assert len(about) > 5
            untagged = [r for r in about if r.get("sandbox_id") != sandbox_id]
            assert not untagged, untagged[:3]

    def test_request_lines_carry_request_id_and_owner(self, run: Run) -> None:
        requests = [json.loads(line) for line in run.log.splitlines()]
        requests = [r for r in requests if r.get("event") == "request"]
        assert requests
        assert all(r.get("request_id") for r in requests)
        execs = [r for r in requests if r["route"].endswith("/exec")]
        assert {r.get("owner") for r in execs} == {"default"}
        assert all(r.get("execution_id") and r.get("session_id") for r in execs)

    def test_ships_lines_reach_bays_log_tagged(self, run: Run) -> None:
        records = [json.loads(line) for line in run.log.splitlines()]
        for sandbox_id in run.sandboxes:
            ship = [
                r for r in records if r.get("source") == "ship" and r["sandbox_id"] == sandbox_id
            ]
            assert any("ship" in r["event"] and "serving" in r["event"] for r in ship), ship
            assert all(r.get("session_id") for r in ship)


def ship_lines(log: str, sandbox_id: str) -> list[dict[str, object]]:
    records = [json.loads(line) for line in log.splitlines()]
    return [r for r in records if r.get("source") == "ship" and r.get("sandbox_id") == sandbox_id]


def test_ships_lines_wait_for_a_restarted_bay() -> None:
    """Bay dies before it drained a session's Ship; the next Bay's heartbeat relays the lines."""
    with traversable_tmp() as base:
        server = BayProcess(base / "data", CONFIG)  # heartbeat every 150 s: none in this run
        server.start()
        try:
            with server.client() as client:
                sandbox_id = client.post("/v1/sandboxes", json={}).json()["id"]
                answer = client.post(
                    f"/v1/sandboxes/{sandbox_id}/shell/exec", json={"command": "true"}
                )
                assert answer.status_code == 200, answer.text
            server.kill()
            first_run = len(server.log.read_text())
            assert not ship_lines(server.log.read_text(), sandbox_id)
            server.config_file.write_text(
                json.dumps({**CONFIG, "ship": {"orphan_grace_seconds": 2}})
            )
            server.start()
            deadline = time.monotonic() + 20
            while not ship_lines(server.log.read_text()[first_run:], sandbox_id):
                assert time.monotonic() < deadline, "no Ship line reached the restarted Bay"
                time.sleep(0.2)
            with server.client() as client:
                client.delete(f"/v1/sandboxes/{sandbox_id}")
        finally:
            server.stop()
