"""Skill candidates: create from owned executions, list with filters, get, evaluate, delete."""

from bay.db.models import ExecutionHistory
from bay.services.clock import utcnow
from tests.unit.bay.conftest import AUTH, Bay, FakeClock
from tests.unit.bay.skill_steps import candidate, evaluate, execution, other_owner, release


async def browser_execution(bay: Bay, sandbox_id: str, owner: str = "default") -> str:
    """A browser batch row, as the browser endpoints write them."""
    async with bay.state["bay"]["sessionmaker"]() as db:
        db.add(
            ExecutionHistory(
                id="exec-b0000000000a",
                owner=owner,
                sandbox_id=sandbox_id,
                exec_type="browser_batch",
                code="open about:blank\nsnapshot",
                success=True,
                execution_time_ms=12,
                created_at=utcnow(),
            )
        )
        await db.commit()
    return "exec-b0000000000a"


class TestCreateCandidate:
    async def test_draft_with_every_field(self, bay: Bay) -> None:
        sandbox_id = await bay.sandbox()
        first = await execution(bay, sandbox_id)
        second = await execution(bay, sandbox_id)
        made = await candidate(
            bay,
            "  login  ",
            source_execution_ids=[first, second, first],
            scenario_key="happy",
            summary="logs in",
            usage_notes="needs a user",
            preconditions={"page": "login"},
            postconditions={"page": "home"},
        )
        assert made["id"].startswith("sc-")
        assert (made["skill_key"], made["status"], made["skill_type"]) == ("login", "draft", "code")
        assert made["source_execution_ids"] == [first, second]
        assert (made["preconditions"], made["postconditions"]) == (
            {"page": "login"},
            {"page": "home"},
        )
        assert (made["latest_score"], made["latest_pass"], made["promotion_release_id"]) == (
            None,
            None,
            None,
        )
        assert (made["created_by"], made["is_deleted"], made["auto_release_eligible"]) == (
            "default",
            False,
            False,
        )

    async def test_browser_executions_make_a_browser_skill(self, bay: Bay) -> None:
        sandbox_id = await bay.sandbox()
        made = await candidate(bay, source_execution_ids=[await browser_execution(bay, sandbox_id)])
        assert made["skill_type"] == "browser"

    async def test_with_an_owned_payload(self, bay: Bay) -> None:
        created = await bay.client.post(
            "/v1/skills/payloads", json={"payload": {"commands": ["snapshot"]}}, headers=AUTH
        )
        ref = created.json()["payload_ref"]
        assert (await candidate(bay, payload_ref=ref))["payload_ref"] == ref

    async def test_blank_skill_key_is_400(self, bay: Bay) -> None:
        ids = [await execution(bay, await bay.sandbox())]
        response = await bay.client.post(
            "/v1/skills/candidates",
            json={"skill_key": "  ", "source_execution_ids": ids},
            headers=AUTH,
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "validation_error"

    async def test_missing_fields_are_422(self, bay: Bay) -> None:
        response = await bay.client.post(
            "/v1/skills/candidates", json={"skill_key": "x"}, headers=AUTH
        )
        assert response.status_code == 422

    async def test_no_source_executions_is_400(self, bay: Bay) -> None:
        response = await bay.client.post(
            "/v1/skills/candidates",
            json={"skill_key": "x", "source_execution_ids": []},
            headers=AUTH,
        )
        assert response.status_code == 400

    async def test_unknown_execution_is_400_naming_it(self, bay: Bay) -> None:
        known = await execution(bay, await bay.sandbox())
        response = await bay.client.post(
            "/v1/skills/candidates",
            json={"skill_key": "x", "source_execution_ids": [known, "exec-000000000000"]},
            headers=AUTH,
        )
        assert response.status_code == 400
        assert response.json()["error"]["details"]["missing"] == ["exec-000000000000"]

    async def test_another_owners_execution_is_400(self, bay: Bay) -> None:
        theirs = await other_owner(bay)
        created = await bay.client.post("/v1/sandboxes", json={}, headers=theirs)
        foreign = await execution(bay, created.json()["id"], headers=theirs)
        response = await bay.client.post(
            "/v1/skills/candidates",
            json={"skill_key": "x", "source_execution_ids": [foreign]},
            headers=AUTH,
        )
        assert response.status_code == 400

    async def test_bad_or_unknown_payload_ref_is_400(self, bay: Bay) -> None:
        ids = [await execution(bay, await bay.sandbox())]
        for ref in ("nonsense", "blob:blob-000000000000"):
            response = await bay.client.post(
                "/v1/skills/candidates",
                json={"skill_key": "x", "source_execution_ids": ids, "payload_ref": ref},
                headers=AUTH,
            )
            assert response.status_code == 400, ref


class TestListCandidates:
    async def test_newest_first_with_filters_and_total(self, bay: Bay, clock: FakeClock) -> None:
        first = await candidate(bay, "a")
        clock.advance(1)
        second = await candidate(bay, "b")
        clock.advance(1)
        third = await candidate(bay, "a")
        await evaluate(bay, third["id"], passed=False)
        listed = (await bay.client.get("/v1/skills/candidates", headers=AUTH)).json()
        assert listed["total"] == 3
        assert [c["id"] for c in listed["items"]] == [third["id"], second["id"], first["id"]]
        by_key = await bay.client.get("/v1/skills/candidates?skill_key=a", headers=AUTH)
        assert [c["id"] for c in by_key.json()["items"]] == [third["id"], first["id"]]
        rejected = await bay.client.get("/v1/skills/candidates?status=rejected", headers=AUTH)
        assert [c["id"] for c in rejected.json()["items"]] == [third["id"]]

    async def test_limit_and_offset(self, bay: Bay, clock: FakeClock) -> None:
        made = []
        for _ in range(3):
            made.append((await candidate(bay))["id"])
            clock.advance(1)
        page = await bay.client.get("/v1/skills/candidates?limit=1&offset=1", headers=AUTH)
        assert (page.json()["total"], [c["id"] for c in page.json()["items"]]) == (3, [made[1]])

    async def test_invalid_status_is_400(self, bay: Bay) -> None:
        response = await bay.client.get("/v1/skills/candidates?status=shipped", headers=AUTH)
        assert response.status_code == 400
        assert "draft" in response.json()["error"]["details"]["allowed"]

    async def test_limit_out_of_range_is_422(self, bay: Bay) -> None:
        for query in ("limit=0", "limit=501", "offset=-1"):
            response = await bay.client.get(f"/v1/skills/candidates?{query}", headers=AUTH)
            assert response.status_code == 422, query

    async def test_other_owner_sees_none(self, bay: Bay) -> None:
        await candidate(bay)
        theirs = await other_owner(bay)
        listed = await bay.client.get("/v1/skills/candidates", headers=theirs)
        assert listed.json() == {"items": [], "total": 0}


class TestGetCandidate:
    async def test_get_by_id(self, bay: Bay) -> None:
        made = await candidate(bay)
        response = await bay.client.get(f"/v1/skills/candidates/{made['id']}", headers=AUTH)
        assert response.json() == made

    async def test_unknown_and_other_owners_are_404(self, bay: Bay) -> None:
        made = await candidate(bay)
        theirs = await other_owner(bay)
        foreign = await bay.client.get(f"/v1/skills/candidates/{made['id']}", headers=theirs)
        assert foreign.status_code == 404
        unknown = await bay.client.get("/v1/skills/candidates/sc-000000000000", headers=AUTH)
        assert unknown.status_code == 404


class TestEvaluateCandidate:
    async def test_pass_records_score_and_moves_to_evaluating(self, bay: Bay) -> None:
        made = await candidate(bay)
        evaluation = await evaluate(bay, made["id"], score=0.91, benchmark_id="b1", report="{}")
        assert evaluation["id"].startswith("se-")
        assert (evaluation["candidate_id"], evaluation["score"], evaluation["passed"]) == (
            made["id"],
            0.91,
            True,
        )
        assert (evaluation["benchmark_id"], evaluation["report"]) == ("b1", "{}")
        assert evaluation["evaluated_by"] == "default"
        got = (await bay.client.get(f"/v1/skills/candidates/{made['id']}", headers=AUTH)).json()
        assert (got["status"], got["latest_score"], got["latest_pass"]) == (
            "evaluating",
            0.91,
            True,
        )
        assert got["last_evaluated_at"] == evaluation["created_at"]

    async def test_fail_rejects(self, bay: Bay) -> None:
        made = await candidate(bay)
        await evaluate(bay, made["id"], passed=False)
        got = (await bay.client.get(f"/v1/skills/candidates/{made['id']}", headers=AUTH)).json()
        assert (got["status"], got["latest_pass"]) == ("rejected", False)

    async def test_passed_is_required(self, bay: Bay) -> None:
        made = await candidate(bay)
        response = await bay.client.post(
            f"/v1/skills/candidates/{made['id']}/evaluate", json={"score": 1}, headers=AUTH
        )
        assert response.status_code == 422

    async def test_other_owners_candidate_is_404(self, bay: Bay) -> None:
        made = await candidate(bay)
        theirs = await other_owner(bay)
        response = await bay.client.post(
            f"/v1/skills/candidates/{made['id']}/evaluate", json={"passed": True}, headers=theirs
        )
        assert response.status_code == 404


class TestDeleteCandidate:
    async def test_soft_delete_with_reason_then_404(self, bay: Bay) -> None:
        made = await candidate(bay)
        url = f"/v1/skills/candidates/{made['id']}"
        response = await bay.client.request("DELETE", url, json={"reason": "dup"}, headers=AUTH)
        assert response.status_code == 200
        body = response.json()
        assert (body["id"], body["deleted_by"], body["delete_reason"]) == (
            made["id"],
            "default",
            "dup",
        )
        assert body["deleted_at"]
        assert (await bay.client.get(url, headers=AUTH)).status_code == 404
        assert (await bay.client.delete(url, headers=AUTH)).status_code == 404
        listed = await bay.client.get("/v1/skills/candidates", headers=AUTH)
        assert listed.json()["total"] == 0

    async def test_without_body(self, bay: Bay) -> None:
        made = await candidate(bay)
        response = await bay.client.delete(f"/v1/skills/candidates/{made['id']}", headers=AUTH)
        assert (response.status_code, response.json()["delete_reason"]) == (200, None)

    async def test_active_release_makes_it_409_until_the_release_is_deleted(self, bay: Bay) -> None:
        served = await release(bay)
        url = f"/v1/skills/candidates/{served['candidate_id']}"
        refused = await bay.client.delete(url, headers=AUTH)
        assert refused.status_code == 409
        assert refused.json()["error"]["details"] == {"active_release_ids": [served["id"]]}
        await bay.client.delete(f"/v1/skills/releases/{served['id']}", headers=AUTH)
        assert (await bay.client.delete(url, headers=AUTH)).status_code == 200

    async def test_other_owners_candidate_is_404(self, bay: Bay) -> None:
        made = await candidate(bay)
        theirs = await other_owner(bay)
        response = await bay.client.delete(f"/v1/skills/candidates/{made['id']}", headers=theirs)
        assert response.status_code == 404
