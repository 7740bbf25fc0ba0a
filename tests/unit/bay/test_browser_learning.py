"""Browser learning: learned executions become candidates and canaries, canaries are reviewed,
and passes of one Bay or of replicas never learn one execution twice."""

import asyncio
from collections.abc import Coroutine
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bay.db.models import ExecutionHistory, SkillCandidate
from bay.services.blobs import BlobService
from bay.services.browser_learning import CLAIM_STALE_S
from bay.services.browser_segments import segments
from bay.services.ids import new_id
from shipyard_protocol.api import BrowserLearningResult
from tests.unit.bay.conftest import AUTH, Bay, FakeClock, make_settings, start_bay
from tests.unit.bay.skill_steps import other_owner
from tests.unit.bay.test_replicas import replicas

SANDBOX = "sandbox-learn0000001"
# Three actions and a read: a segment that passes the default evaluation.
LOGIN = ["open https://example.test/login", "snapshot -i", "fill @e1 ada", "click @e2"]
CANARY_WINDOW = timedelta(hours=24)


def steps(commands: list[str], failed: frozenset[int] = frozenset()) -> list[dict[str, Any]]:
    return [
        {
            "kind": "individual_action",
            "cmd": cmd,
            "stdout": "ok",
            "stderr": "boom" if index in failed else "",
            "exit_code": 1 if index in failed else 0,
            "step_index": index,
            "duration_ms": 5,
        }
        for index, cmd in enumerate(commands)
    ]


def batch_trace(commands: list[str], failed: frozenset[int] = frozenset()) -> dict[str, Any]:
    recorded = steps(commands, failed)
    return {
        "kind": "browser_batch_trace",
        "steps": recorded,
        "total_steps": len(recorded),
        "completed_steps": len(recorded),
        "success": not failed,
        "duration_ms": 5 * len(recorded),
    }


async def learnable(
    bay: Bay,
    trace: Any = None,
    owner: str = "default",
    tags: str | None = None,
    payload_ref: str | None = None,
    sandbox_id: str = SANDBOX,
    **fields: Any,
) -> str:
    """A browser history row with `learn` on and its trace, as the browser routes write them."""
    state = bay.state["bay"]
    execution_id = new_id("exec")
    async with state["sessionmaker"]() as db, db.begin():
        if trace is not None:
            payload_ref = await BlobService(db, state["clock"]).put(owner, "browser_trace", trace)
        values: dict[str, Any] = {
            "id": execution_id,
            "owner": owner,
            "sandbox_id": sandbox_id,
            "exec_type": "browser_batch",
            "code": "",
            "success": True,
            "execution_time_ms": 20,
            "created_at": state["clock"](),
            "tags": tags,
            "payload_ref": payload_ref,
            "learn_enabled": True,
            "learn_status": "pending",
        }
        db.add(ExecutionHistory(**(values | fields)))
    return execution_id


async def learn(bay: Bay) -> dict[str, Any]:
    response = await bay.client.post("/v1/admin/browser-learning/run", headers=AUTH)
    assert response.status_code == 200, response.text
    return dict(response.json())


def counts(result: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in result.items() if value and key != "duration_ms"}


async def entry(bay: Bay, execution_id: str) -> dict[str, Any]:
    async with bay.state["bay"]["sessionmaker"]() as db:
        row = await db.get(ExecutionHistory, execution_id)
        assert row is not None
        return {
            "learn_status": row.learn_status,
            "learn_error": row.learn_error,
            "learn_processed_at": row.learn_processed_at,
        }


async def listing(bay: Bay, what: str, headers: Any = None, **params: Any) -> list[Any]:
    response = await bay.client.get(f"/v1/skills/{what}", params=params, headers=headers or AUTH)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.rstrip("Z"))


class TestSegments:
    def test_read_only_steps_stay_in_a_run_but_are_no_actions(self) -> None:
        found = segments(steps(["snapshot", "click @e1", "wait 100", "fill @e2 x", "get text"]))
        assert [(s.commands, s.actions) for s in found] == [
            (["snapshot", "click @e1", "wait 100", "fill @e2 x", "get text"], 2)
        ]

    def test_a_failed_step_ends_a_run(self) -> None:
        commands = ["open a", "click b", "click c", "open d", "click e", "type f"]
        found = segments(steps(commands, failed=frozenset({2})))
        assert [s.commands for s in found] == [
            ["open a", "click b"],
            ["open d", "click e", "type f"],
        ]

    def test_runs_of_one_action_are_no_segments(self) -> None:
        commands = ["open a", "snapshot", "click b", "get url"]
        assert segments(steps(commands, failed=frozenset({1}))) == []


class TestLearn:
    async def test_a_learned_batch_becomes_a_candidate_and_a_canary(self, bay: Bay) -> None:
        execution_id = await learnable(bay, batch_trace(LOGIN))
        result = await learn(bay)
        assert counts(result) == {"claimed": 1, "processed": 1, "candidates": 1, "canaries": 1}
        [made] = await listing(bay, "candidates")
        assert (made["skill_key"], made["skill_type"], made["created_by"]) == (
            f"browser-{SANDBOX}",
            "browser",
            "system:auto",
        )
        assert made["source_execution_ids"] == [execution_id]
        assert (made["status"], made["latest_score"], made["latest_pass"]) == (
            "promoted_canary",
            0.99,
            True,
        )
        assert made["auto_release_eligible"] is True
        payload = await bay.client.get(f"/v1/skills/payloads/{made['payload_ref']}", headers=AUTH)
        assert payload.json()["kind"] == "browser_segment"
        assert payload.json()["payload"]["commands"] == LOGIN
        assert len(payload.json()["payload"]["steps"]) == len(LOGIN)
        [served] = await listing(bay, "releases")
        assert (served["stage"], served["release_mode"], served["is_active"]) == (
            "canary",
            "auto",
            True,
        )
        assert (served["candidate_id"], served["promoted_by"]) == (made["id"], "system:auto")
        assert at(served["health_window_end_at"]) - at(served["promoted_at"]) == CANARY_WINDOW
        learned = await entry(bay, execution_id)
        assert (learned["learn_status"], learned["learn_error"]) == ("processed", None)
        assert learned["learn_processed_at"] is not None

    async def test_the_history_api_shows_the_outcome(self, bay: Bay) -> None:
        sandbox_id = await bay.sandbox()
        execution_id = await learnable(bay, batch_trace(LOGIN), sandbox_id=sandbox_id)
        await learn(bay)
        response = await bay.client.get(
            f"/v1/sandboxes/{sandbox_id}/history/{execution_id}", headers=AUTH
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["learn_enabled"], body["learn_status"]) == (True, "processed")
        assert body["payload_ref"].startswith("blob:")
        assert body["learn_processed_at"]

    async def test_a_read_only_trace_is_skipped_with_a_reason(self, bay: Bay) -> None:
        execution_id = await learnable(bay, batch_trace(["snapshot", "get title", "get url"]))
        assert counts(await learn(bay)) == {"claimed": 1, "skipped": 1}
        learned = await entry(bay, execution_id)
        assert learned["learn_status"] == "skipped"
        assert "no segment" in learned["learn_error"]
        assert await listing(bay, "candidates") == []

    async def test_executions_without_a_usable_trace_are_skipped_saying_why(self, bay: Bay) -> None:
        reasons = {
            await learnable(bay): "no trace",
            await learnable(bay, payload_ref="blob:blob-000000000000"): "trace not found",
            await learnable(bay, payload_ref="file:/etc/passwd"): "trace unreadable",
            await learnable(bay, {"kind": "browser_batch_trace"}): "trace unreadable",
            await learnable(bay, {"steps": [{"cmd": "open a"}]}): "trace unreadable",
        }
        assert counts(await learn(bay)) == {"claimed": 5, "skipped": 5}
        for execution_id, reason in reasons.items():
            learned = await entry(bay, execution_id)
            assert learned["learn_status"] == "skipped"
            assert learned["learn_error"].startswith(reason), learned

    async def test_a_short_segment_is_a_rejected_candidate_and_no_release(self, bay: Bay) -> None:
        await learnable(bay, batch_trace(["open a", "click b"]))
        assert counts(await learn(bay)) == {"claimed": 1, "processed": 1, "candidates": 1}
        [made] = await listing(bay, "candidates")
        assert (made["status"], made["latest_pass"], made["auto_release_eligible"]) == (
            "rejected",
            False,
            False,
        )
        assert "samples 20" in made["auto_release_reason"]
        assert await listing(bay, "releases") == []

    async def test_of_several_segments_the_longest_is_released(self, bay: Bay) -> None:
        commands = ["open a", "click b", "click c", "type d", "open e", *LOGIN[2:], "click f"]
        await learnable(bay, batch_trace(commands, failed=frozenset({4})))
        assert counts(await learn(bay)) == {
            "claimed": 1,
            "processed": 1,
            "candidates": 2,
            "canaries": 1,
        }
        made = {c["id"]: c for c in await listing(bay, "candidates")}
        [served] = await listing(bay, "releases")
        assert made[served["candidate_id"]]["summary"].startswith("4 browser actions")
        assert sorted(c["status"] for c in made.values()) == ["evaluating", "promoted_canary"]

    async def test_a_skill_tag_names_the_skill(self, bay: Bay) -> None:
        await learnable(bay, batch_trace(LOGIN), tags="smoke,skill:login-flow")
        await learn(bay)
        [made] = await listing(bay, "candidates")
        assert made["skill_key"] == "login-flow"
        assert (await listing(bay, "releases"))[0]["skill_key"] == "login-flow"

    async def test_the_kill_switch_keeps_candidates_but_releases_nothing(
        self, tmp_path: Path, clock: FakeClock
    ) -> None:
        settings = make_settings(tmp_path, browser_auto_release_enabled=False)
        async with start_bay(settings, clock) as bay:
            await learnable(bay, batch_trace(LOGIN))
            assert counts(await learn(bay)) == {"claimed": 1, "processed": 1, "candidates": 1}
            [made] = await listing(bay, "candidates")
            assert (made["status"], made["latest_pass"]) == ("evaluating", True)
            assert "browser_auto_release_enabled" in made["auto_release_reason"]
            assert await listing(bay, "releases") == []

    async def test_rows_not_pending_or_still_running_are_left_alone(self, bay: Bay) -> None:
        trace = batch_trace(LOGIN)
        untouched = [
            await learnable(bay, trace, learn_enabled=False, learn_status="skipped"),
            await learnable(bay, trace, learn_status="processed"),
            await learnable(bay, trace, status="running"),
            await learnable(bay, trace, exec_type="shell"),
        ]
        assert counts(await learn(bay)) == {}
        statuses = [(await entry(bay, each))["learn_status"] for each in untouched]
        assert statuses == ["skipped", "processed", "pending", "pending"]

    async def test_a_pass_takes_a_batch_oldest_first(
        self, tmp_path: Path, clock: FakeClock
    ) -> None:
        settings = make_settings(tmp_path, browser_learning={"enabled": False, "batch_size": 2})
        async with start_bay(settings, clock) as bay:
            first = [await learnable(bay, batch_trace(["snapshot"])) for _ in range(2)]
            clock.advance(1)
            last = await learnable(bay, batch_trace(["snapshot"]))
            assert (await learn(bay))["claimed"] == 2
            assert [(await entry(bay, e))["learn_status"] for e in first] == ["skipped"] * 2
            assert (await entry(bay, last))["learn_status"] == "pending"
            assert (await learn(bay))["claimed"] == 1

    async def test_a_claim_of_a_stopped_pass_is_taken_over(
        self, bay: Bay, clock: FakeClock
    ) -> None:
        claimed_at = clock() - timedelta(seconds=CLAIM_STALE_S + 1)
        stale = await learnable(
            bay, batch_trace(LOGIN), learn_status="processing", learn_processed_at=clock()
        )
        assert counts(await learn(bay)) == {}  # a fresh claim: its pass may still be running
        async with bay.state["bay"]["sessionmaker"]() as db, db.begin():
            row = await db.get(ExecutionHistory, stale)
            assert row is not None
            row.learn_processed_at = claimed_at
        assert (await learn(bay))["processed"] == 1

    async def test_an_admin_key_is_needed(self, bay: Bay) -> None:
        headers = await other_owner(bay)
        response = await bay.client.post("/v1/admin/browser-learning/run", headers=headers)
        assert response.status_code == 403


class TestOwners:
    async def test_candidates_and_releases_belong_to_the_executions_owner(self, bay: Bay) -> None:
        mallory = await other_owner(bay)
        await learnable(bay, batch_trace(LOGIN), owner="mallory")
        await learnable(bay, batch_trace(LOGIN), tags="skill:mine")
        assert (await learn(bay))["canaries"] == 2
        assert [c["skill_key"] for c in await listing(bay, "candidates")] == ["mine"]
        assert [r["skill_key"] for r in await listing(bay, "releases")] == ["mine"]
        theirs = await listing(bay, "candidates", headers=mallory)
        assert [c["skill_key"] for c in theirs] == [f"browser-{SANDBOX}"]
        assert len(await listing(bay, "releases", headers=mallory)) == 1

    async def test_another_owners_trace_is_not_read(self, bay: Bay) -> None:
        state = bay.state["bay"]
        async with state["sessionmaker"]() as db, db.begin():
            ref = await BlobService(db, state["clock"]).put(
                "mallory", "browser_trace", batch_trace(LOGIN)
            )
        execution_id = await learnable(bay, payload_ref=ref)
        assert counts(await learn(bay)) == {"claimed": 1, "skipped": 1}
        assert (await entry(bay, execution_id))["learn_error"].startswith("trace not found")


async def canary(bay: Bay, key: str = "login") -> dict[str, Any]:
    await learnable(bay, batch_trace(LOGIN), tags=f"skill:{key}")
    assert (await learn(bay))["canaries"] == 1
    [served] = await listing(bay, "releases", skill_key=key, active_only="true")
    return dict(served)


async def skill_runs(bay: Bay, release_id: str, ok: int, failed: int) -> None:
    """Replays of the release, as the skill run route records them."""
    for success in [True] * ok + [False] * failed:
        await learnable(
            bay,
            exec_type="browser_batch",
            success=success,
            tags=f"skill:login,release:{release_id},stage:canary",
            learn_enabled=False,
            learn_status="skipped",
        )


class TestCanaryReview:
    async def test_a_canary_healthy_through_its_window_is_promoted_to_stable(
        self, bay: Bay, clock: FakeClock
    ) -> None:
        served = await canary(bay)
        await skill_runs(bay, served["id"], ok=5, failed=0)
        clock.advance(CANARY_WINDOW.total_seconds() - 60)
        assert counts(await learn(bay)) == {}
        clock.advance(120)
        assert counts(await learn(bay)) == {"promoted": 1}
        [stable] = await listing(bay, "releases", active_only="true")
        assert (stable["stage"], stable["release_mode"], stable["version"]) == ("stable", "auto", 2)
        assert stable["auto_promoted_from"] == served["id"]
        assert stable["candidate_id"] == served["candidate_id"]
        [made] = await listing(bay, "candidates")
        assert made["status"] == "promoted_stable"
        assert counts(await learn(bay)) == {}  # a stable release is reviewed no more

    async def test_a_regressed_canary_is_rolled_back_to_the_release_before(
        self, bay: Bay, clock: FakeClock
    ) -> None:
        first = await canary(bay)
        clock.advance(CANARY_WINDOW.total_seconds() + 1)
        assert (await learn(bay))["promoted"] == 1
        second = await canary(bay)
        await skill_runs(bay, second["id"], ok=3, failed=2)
        assert counts(await learn(bay)) == {"rolled_back": 1}
        [active] = await listing(bay, "releases", active_only="true")
        assert (active["rollback_of"], active["stage"]) == (second["id"], "stable")
        assert active["candidate_id"] == first["candidate_id"]
        assert "automatic rollback" in active["change_summary"]
        made = {c["id"]: c["status"] for c in await listing(bay, "candidates")}
        assert made[second["candidate_id"]] == "rolled_back"

    async def test_a_regressed_first_canary_stops_serving(self, bay: Bay) -> None:
        served = await canary(bay)
        await skill_runs(bay, served["id"], ok=0, failed=3)
        assert counts(await learn(bay)) == {"rolled_back": 1}
        assert await listing(bay, "releases", active_only="true") == []
        [made] = await listing(bay, "candidates")
        assert made["status"] == "rolled_back"

    async def test_manual_canaries_are_left_to_their_owners(
        self, bay: Bay, clock: FakeClock
    ) -> None:
        made = await bay.client.post(
            "/v1/skills/candidates",
            json={"skill_key": "manual", "source_execution_ids": [await learnable(bay)]},
            headers=AUTH,
        )
        candidate_id = made.json()["id"]
        await bay.client.post(
            f"/v1/skills/candidates/{candidate_id}/evaluate", json={"passed": True}, headers=AUTH
        )
        await bay.client.post(
            f"/v1/skills/candidates/{candidate_id}/promote", json={}, headers=AUTH
        )
        clock.advance(CANARY_WINDOW.total_seconds() + 1)
        assert counts(await learn(bay)) == {"claimed": 1, "skipped": 1}
        [served] = await listing(bay, "releases")
        assert (served["stage"], served["release_mode"]) == ("canary", "manual")

    async def test_the_kill_switch_stops_promotion_but_not_rollback(
        self, tmp_path: Path, clock: FakeClock
    ) -> None:
        async with start_bay(make_settings(tmp_path), clock) as bay:
            healthy = await canary(bay, "healthy")
            regressed = await canary(bay, "regressed")
            await skill_runs(bay, regressed["id"], ok=0, failed=2)
        switched_off = make_settings(tmp_path, browser_auto_release_enabled=False)
        async with start_bay(switched_off, clock) as bay:
            clock.advance(CANARY_WINDOW.total_seconds() + 1)
            assert counts(await learn(bay)) == {"rolled_back": 1}
            [active] = await listing(bay, "releases", active_only="true")
            assert (active["id"], active["stage"]) == (healthy["id"], "canary")

    async def test_health_answers_use_the_configured_thresholds(
        self, tmp_path: Path, clock: FakeClock
    ) -> None:
        learning = {"enabled": False, "success_drop_threshold": 0.5}
        async with start_bay(make_settings(tmp_path, browser_learning=learning), clock) as bay:
            served = await canary(bay)
            await skill_runs(bay, served["id"], ok=3, failed=1)
            response = await bay.client.get(
                f"/v1/skills/releases/{served['id']}/health", headers=AUTH
            )
            body = response.json()
            assert body["thresholds"]["success_drop"] == 0.5
            assert body["rollback_reasons"] == [
                reason for reason in body["rollback_reasons"] if "error rate" in reason
            ]


async def learned_once(bay: Bay, execution_ids: list[str]) -> None:
    """Every execution learned, each into exactly one candidate."""
    async with bay.state["bay"]["sessionmaker"]() as db:
        statuses = set(
            await db.scalars(
                select(ExecutionHistory.learn_status).where(ExecutionHistory.id.in_(execution_ids))
            )
        )
        per_execution = list(
            await db.scalars(
                select(func.count())
                .select_from(SkillCandidate)
                .group_by(SkillCandidate.payload_ref)
            )
        )
        candidates = list(await db.scalars(select(SkillCandidate.source_execution_ids)))
    assert statuses == {"processed"}
    assert set(per_execution) == {1}
    assert sorted(ids[0] for ids in candidates) == sorted(execution_ids)


class TestConcurrentPasses:
    async def test_two_passes_at_once_never_learn_one_execution_twice(self, bay: Bay) -> None:
        ids = [await learnable(bay, batch_trace(LOGIN), tags=f"skill:s{i}") for i in range(25)]
        learning = bay.state["bay"]["learning"]
        results = await asyncio.gather(learning.run_once(), learning.run_once())
        assert sum(r.claimed for r in results) == 25
        assert sum(r.candidates for r in results) == 25
        await learned_once(bay, ids)


@pytest.mark.xdist_group("postgres")
class TestReplicas:
    async def test_replicas_on_postgresql_share_the_work_without_overlap(
        self, tmp_path: Path, database: str, clock: FakeClock
    ) -> None:
        learning = {"enabled": False, "batch_size": 8}
        async with replicas(tmp_path, database, clock, browser_learning=learning) as (a, b):
            ids = [await learnable(a, batch_trace(LOGIN), tags=f"skill:s{i}") for i in range(30)]
            claimed = sum(r.claimed for r in await asyncio.gather(*passes(a, b, 3)))
            # A pass skips rows another is claiming: what all skipped waits for the next one.
            while claimed < 30:
                more = (await learn(b))["claimed"]
                assert more
                claimed += more
            assert counts(await learn(a)) == {}
            await learned_once(a, ids)

    async def test_replicas_learning_one_skill_at_once_publish_each_version_once(
        self, tmp_path: Path, database: str, clock: FakeClock
    ) -> None:
        learning = {"enabled": False, "batch_size": 1}
        async with replicas(tmp_path, database, clock, browser_learning=learning) as (a, b):
            ids = [await learnable(a, batch_trace(LOGIN)) for _ in range(6)]
            async with asyncio.timeout(120):
                while await pending(a):  # one that lost a race to publish is pending again
                    await asyncio.gather(*passes(a, b, 3))
            await learned_once(a, ids)
            versions = [r["version"] for r in await listing(a, "releases")]
            assert sorted(versions) == [1, 2, 3, 4, 5, 6]
            assert len(await listing(a, "releases", active_only="true")) == 1

    async def test_replicas_reviewing_one_canary_at_once_promote_it_once(
        self, tmp_path: Path, database: str, clock: FakeClock
    ) -> None:
        learning = {"enabled": False}
        async with replicas(tmp_path, database, clock, browser_learning=learning) as (a, b):
            served = await canary(a)
            clock.advance(CANARY_WINDOW.total_seconds() + 1)
            results = await asyncio.gather(*passes(a, b, 2))
            assert sum(r.promoted for r in results) == 1
            versions = [(r["version"], r["stage"]) for r in await listing(a, "releases")]
            assert sorted(versions) == [(1, "canary"), (2, "stable")]
            [active] = await listing(b, "releases", active_only="true")
            assert active["auto_promoted_from"] == served["id"]


def passes(a: Bay, b: Bay, rounds: int) -> list[Coroutine[Any, Any, BrowserLearningResult]]:
    """Passes of both replicas, to run at once."""
    return [bay.state["bay"]["learning"].run_once() for bay in (a, b) * rounds]


class TestSchedule:
    async def test_a_pass_runs_at_startup_when_enabled(
        self, tmp_path: Path, clock: FakeClock
    ) -> None:
        async with start_bay(make_settings(tmp_path), clock) as bay:
            execution_id = await learnable(bay, batch_trace(LOGIN))
        enabled = make_settings(tmp_path, browser_learning={"enabled": True})
        async with start_bay(enabled, clock) as bay:
            async with asyncio.timeout(60):
                while (await entry(bay, execution_id))["learn_status"] != "processed":
                    await asyncio.sleep(0.05)
            metrics = await bay.client.get("/metrics", headers=AUTH)
            assert 'bay_browser_learning_executions_total{outcome="processed"} 1.0' in metrics.text
            assert 'bay_browser_learning_releases_total{action="canary"} 1.0' in metrics.text


async def pending(bay: Bay) -> int:
    async with bay.state["bay"]["sessionmaker"]() as db:
        query = select(func.count()).where(ExecutionHistory.learn_status == "pending")
        return int(await db.scalar(query) or 0)
