"""Release health: the window's samples against a baseline, and the rollback verdict."""

from datetime import datetime, timedelta
from typing import Any

from bay.services import release_health
from bay.services.release_health import Metrics, Sample, Window
from tests.unit.bay.conftest import AUTH, Bay, FakeClock
from tests.unit.bay.skill_steps import candidate, evaluate, execution, other_owner, release

START = datetime(2026, 1, 1)  # noqa: DTZ001 - Bay's clock is naive UTC


async def health(bay: Bay, release_id: str, headers: Any = None) -> Any:
    response = await bay.client.get(
        f"/v1/skills/releases/{release_id}/health", headers=headers or AUTH
    )
    assert response.status_code == 200, response.text
    return response.json()


async def runs(bay: Bay, release_id: str, ok: int, failed: int) -> None:
    sandbox_id = await bay.sandbox()
    for success in [True] * ok + [False] * failed:
        await execution(bay, sandbox_id, ok=success, tags=f"skill:login,release:{release_id}")


class TestReleaseHealth:
    async def test_no_samples_is_healthy_with_a_24h_window(
        self, bay: Bay, clock: FakeClock
    ) -> None:
        served = await release(bay)
        body = await health(bay, served["id"])
        assert (body["release_id"], body["skill_key"], body["stage"]) == (
            served["id"],
            "login",
            "canary",
        )
        assert body["window_start_at"] == served["promoted_at"]
        start = datetime.fromisoformat(body["window_start_at"].rstrip("Z"))
        assert datetime.fromisoformat(body["window_end_at"].rstrip("Z")) - start == timedelta(
            hours=24
        )
        assert (body["samples"], body["healthy"], body["should_rollback"]) == (0, True, False)
        assert body["window_complete"] is False
        assert body["thresholds"] == {"success_drop": 0.03, "error_rate_multiplier": 2.0}
        clock.advance(24 * 3600)
        assert (await health(bay, served["id"]))["window_complete"] is True

    async def test_failures_against_a_perfect_baseline_ask_for_rollback(self, bay: Bay) -> None:
        served = await release(bay)
        await runs(bay, served["id"], ok=3, failed=1)
        body = await health(bay, served["id"])
        assert (body["samples"], body["success_rate"], body["error_rate"]) == (4, 0.75, 0.25)
        assert (body["baseline_success_rate"], body["baseline_samples"]) == (1.0, 0)
        assert (body["success_drop"], body["should_rollback"], body["healthy"]) == (
            0.25,
            True,
            False,
        )
        assert len(body["rollback_reasons"]) == 2

    async def test_only_this_releases_tag_in_the_window_counts(
        self, bay: Bay, clock: FakeClock
    ) -> None:
        served = await release(bay)
        sandbox_id = await bay.sandbox()
        await execution(bay, sandbox_id, tags=f"release:{served['id']}")
        await execution(bay, sandbox_id, ok=False, tags=f"release:{served['id']}0")
        await execution(bay, sandbox_id, ok=False)
        clock.advance(25 * 3600)
        await execution(bay, sandbox_id, ok=False, tags=f"release:{served['id']}")
        body = await health(bay, served["id"])
        assert (body["samples"], body["success_rate"], body["healthy"]) == (1, 1.0, True)

    async def test_evaluation_report_is_the_baseline(self, bay: Bay) -> None:
        made = await candidate(bay)
        report = '{"replay_success": 0.8, "error_rate": 0.2, "samples": 40}'
        await evaluate(bay, made["id"], report=report)
        promoted = await bay.client.post(
            f"/v1/skills/candidates/{made['id']}/promote", json={}, headers=AUTH
        )
        release_id = promoted.json()["id"]
        await runs(bay, release_id, ok=4, failed=1)
        body = await health(bay, release_id)
        assert (body["baseline_success_rate"], body["baseline_error_rate"]) == (0.8, 0.2)
        assert (body["baseline_samples"], body["success_drop"]) == (40, 0.0)
        assert (body["error_rate_multiplier"], body["healthy"]) == (1.0, True)

    async def test_previous_release_window_is_the_baseline(self, bay: Bay) -> None:
        first = await release(bay)
        await runs(bay, first["id"], ok=1, failed=1)
        second = await release(bay)
        await runs(bay, second["id"], ok=2, failed=0)
        body = await health(bay, second["id"])
        assert (body["baseline_success_rate"], body["baseline_samples"]) == (0.5, 2)
        assert (body["success_rate"], body["should_rollback"]) == (1.0, False)

    async def test_unknown_or_other_owners_release_is_404(self, bay: Bay) -> None:
        served = await release(bay)
        theirs = await other_owner(bay)
        foreign = await bay.client.get(f"/v1/skills/releases/{served['id']}/health", headers=theirs)
        assert foreign.status_code == 404
        missing = await bay.client.get("/v1/skills/releases/sr-000000000000/health", headers=AUTH)
        assert missing.status_code == 404


class TestJudge:
    def verdict(self, current: Metrics, baseline: Metrics) -> Any:
        span = Window(START, START + timedelta(hours=1))
        return release_health.judge("sr-1", "k", "canary", span, START, current, baseline)

    def test_a_drop_of_exactly_the_threshold_is_healthy(self) -> None:
        current = release_health.metrics([Sample(True, 1)] * 97 + [Sample(False, 1)] * 3)
        baseline = Metrics(samples=100, success_rate=1.0, error_rate=0.05)
        assert self.verdict(current, baseline).healthy is True

    def test_error_rate_growth_alone_asks_for_rollback(self) -> None:
        current = Metrics(samples=10, success_rate=0.9, error_rate=0.1)
        baseline = Metrics(samples=10, success_rate=0.9, error_rate=0.04)
        verdict = self.verdict(current, baseline)
        assert (verdict.error_rate_multiplier, verdict.should_rollback) == (2.5, True)

    def test_zero_baseline_error_rate_counts_as_one_percent(self) -> None:
        current = Metrics(samples=100, success_rate=0.98, error_rate=0.02)
        verdict = self.verdict(current, release_health.PERFECT)
        assert verdict.error_rate_multiplier == 2.0

    def test_p95_is_the_nearest_rank(self) -> None:
        samples = [Sample(True, ms) for ms in range(1, 101)]
        assert release_health.metrics(samples).p95_duration == 95

    def test_report_baseline_ignores_what_is_not_a_json_object(self) -> None:
        for report in (None, "", "not json", "[1]", '{"samples": 3}'):
            assert release_health.report_baseline(report) is None
        parsed = release_health.report_baseline('{"replay_success": 0.9}')
        assert parsed is not None
        assert (parsed.samples, parsed.success_rate) == (0, 0.9)
        assert abs(parsed.error_rate - 0.1) < 1e-9
