"""Skill releases: promote, list with filters, soft delete, rollback to a new version."""

import asyncio
from typing import Any

from tests.unit.bay.conftest import AUTH, Bay, FakeClock
from tests.unit.bay.skill_steps import candidate, evaluate, other_owner, release


async def get_candidate(bay: Bay, candidate_id: str) -> Any:
    return (await bay.client.get(f"/v1/skills/candidates/{candidate_id}", headers=AUTH)).json()


async def promote(bay: Bay, candidate_id: str, headers: Any = None, **body: Any) -> Any:
    return await bay.client.post(
        f"/v1/skills/candidates/{candidate_id}/promote", json=body, headers=headers or AUTH
    )


class TestPromote:
    async def test_first_release_is_version_1_canary_and_active(self, bay: Bay) -> None:
        made = await candidate(bay)
        await evaluate(bay, made["id"])
        response = await promote(bay, made["id"], change_summary="first")
        assert response.status_code == 200
        body = response.json()
        assert body["id"].startswith("sr-")
        assert (body["skill_key"], body["candidate_id"], body["version"]) == (
            "login",
            made["id"],
            1,
        )
        assert (body["stage"], body["is_active"], body["release_mode"]) == (
            "canary",
            True,
            "manual",
        )
        assert (body["promoted_by"], body["change_summary"], body["is_deleted"]) == (
            "default",
            "first",
            False,
        )
        assert (body["rollback_of"], body["health_window_end_at"]) == (None, None)
        promoted = await get_candidate(bay, made["id"])
        assert (promoted["status"], promoted["promotion_release_id"]) == ("promoted", body["id"])

    async def test_without_a_body_promotes_to_canary(self, bay: Bay) -> None:
        made = await candidate(bay)
        await evaluate(bay, made["id"])
        response = await bay.client.post(
            f"/v1/skills/candidates/{made['id']}/promote", headers=AUTH
        )
        assert (response.status_code, response.json()["stage"]) == (200, "canary")

    async def test_next_version_deactivates_the_others(self, bay: Bay) -> None:
        first = await release(bay)
        second = await release(bay, stage="stable")
        other_key = await release(bay, "search")
        assert (second["version"], second["stage"], other_key["version"]) == (2, "stable", 1)
        active = await bay.client.get(
            "/v1/skills/releases?active_only=true&skill_key=login", headers=AUTH
        )
        assert [r["id"] for r in active.json()["items"]] == [second["id"]]
        assert first["id"] not in [r["id"] for r in active.json()["items"]]

    async def test_upgrade_of_an_owned_release_is_recorded(self, bay: Bay) -> None:
        first = await release(bay)
        made = await candidate(bay)
        await evaluate(bay, made["id"])
        response = await promote(
            bay, made["id"], upgrade_of_release_id=first["id"], upgrade_reason="faster"
        )
        body = response.json()
        assert (body["upgrade_of_release_id"], body["upgrade_reason"]) == (first["id"], "faster")

    async def test_upgrade_of_an_unknown_release_is_400(self, bay: Bay) -> None:
        made = await candidate(bay)
        await evaluate(bay, made["id"])
        response = await promote(bay, made["id"], upgrade_of_release_id="sr-000000000000")
        assert response.status_code == 400

    async def test_invalid_stage_is_400(self, bay: Bay) -> None:
        made = await candidate(bay)
        await evaluate(bay, made["id"])
        response = await promote(bay, made["id"], stage="beta")
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "validation_error"

    async def test_unevaluated_or_failed_candidate_is_409(self, bay: Bay) -> None:
        made = await candidate(bay)
        assert (await promote(bay, made["id"])).status_code == 409
        await evaluate(bay, made["id"], passed=False)
        refused = await promote(bay, made["id"])
        assert (refused.status_code, refused.json()["error"]["code"]) == (409, "conflict")

    async def test_deleted_or_other_owners_candidate_is_404(self, bay: Bay) -> None:
        made = await candidate(bay)
        await evaluate(bay, made["id"])
        theirs = await other_owner(bay)
        assert (await promote(bay, made["id"], headers=theirs)).status_code == 404
        await bay.client.delete(f"/v1/skills/candidates/{made['id']}", headers=AUTH)
        assert (await promote(bay, made["id"])).status_code == 404

    async def test_owners_number_their_versions_apart(self, bay: Bay) -> None:
        await release(bay)
        theirs = await other_owner(bay)
        sandbox = await bay.client.post("/v1/sandboxes", json={}, headers=theirs)
        run = await bay.client.post(
            f"/v1/sandboxes/{sandbox.json()['id']}/shell/exec",
            json={"command": "true"},
            headers=theirs,
        )
        made = await bay.client.post(
            "/v1/skills/candidates",
            json={"skill_key": "login", "source_execution_ids": [run.json()["execution_id"]]},
            headers=theirs,
        )
        candidate_id = made.json()["id"]
        await bay.client.post(
            f"/v1/skills/candidates/{candidate_id}/evaluate", json={"passed": True}, headers=theirs
        )
        response = await promote(bay, candidate_id, headers=theirs)
        assert response.json()["version"] == 1


class TestListReleases:
    async def test_newest_first_with_filters(self, bay: Bay, clock: FakeClock) -> None:
        first = await release(bay)
        clock.advance(1)
        second = await release(bay, stage="stable")
        clock.advance(1)
        other = await release(bay, "search")
        listed = (await bay.client.get("/v1/skills/releases", headers=AUTH)).json()
        assert listed["total"] == 3
        assert [r["id"] for r in listed["items"]] == [other["id"], second["id"], first["id"]]
        stable = await bay.client.get("/v1/skills/releases?stage=stable", headers=AUTH)
        assert [r["id"] for r in stable.json()["items"]] == [second["id"]]
        active = await bay.client.get("/v1/skills/releases?active_only=true", headers=AUTH)
        assert {r["id"] for r in active.json()["items"]} == {second["id"], other["id"]}
        paged = await bay.client.get(
            "/v1/skills/releases?skill_key=login&limit=1&offset=1", headers=AUTH
        )
        assert (paged.json()["total"], paged.json()["items"][0]["id"]) == (2, first["id"])

    async def test_invalid_stage_is_400(self, bay: Bay) -> None:
        response = await bay.client.get("/v1/skills/releases?stage=beta", headers=AUTH)
        assert response.status_code == 400

    async def test_other_owner_sees_none(self, bay: Bay) -> None:
        await release(bay)
        theirs = await other_owner(bay)
        listed = await bay.client.get("/v1/skills/releases", headers=theirs)
        assert listed.json() == {"items": [], "total": 0}


class TestDeleteRelease:
    async def test_active_release_is_soft_deleted_and_unlinked(self, bay: Bay) -> None:
        served = await release(bay)
        url = f"/v1/skills/releases/{served['id']}"
        response = await bay.client.request("DELETE", url, json={"reason": "bad"}, headers=AUTH)
        assert response.status_code == 200
        body = response.json()
        assert (body["id"], body["deleted_by"], body["delete_reason"]) == (
            served["id"],
            "default",
            "bad",
        )
        assert (await get_candidate(bay, served["candidate_id"]))["promotion_release_id"] is None
        listed = await bay.client.get("/v1/skills/releases", headers=AUTH)
        assert listed.json()["total"] == 0
        assert (await bay.client.delete(url, headers=AUTH)).status_code == 404

    async def test_unknown_or_other_owners_release_is_404(self, bay: Bay) -> None:
        served = await release(bay)
        theirs = await other_owner(bay)
        url = f"/v1/skills/releases/{served['id']}"
        assert (await bay.client.delete(url, headers=theirs)).status_code == 404
        missing = await bay.client.delete("/v1/skills/releases/sr-000000000000", headers=AUTH)
        assert missing.status_code == 404


class TestRollback:
    async def test_new_version_serves_the_previous_candidate(self, bay: Bay) -> None:
        first = await release(bay, stage="stable")
        second = await release(bay)
        response = await bay.client.post(
            f"/v1/skills/releases/{second['id']}/rollback", headers=AUTH
        )
        assert response.status_code == 200
        back = response.json()
        assert (back["version"], back["candidate_id"], back["stage"]) == (
            3,
            first["candidate_id"],
            "stable",
        )
        assert (back["rollback_of"], back["is_active"]) == (second["id"], True)
        rolled = await get_candidate(bay, second["candidate_id"])
        restored = await get_candidate(bay, first["candidate_id"])
        assert rolled["status"] == "rolled_back"
        assert (restored["status"], restored["promotion_release_id"]) == ("promoted", back["id"])
        active = await bay.client.get("/v1/skills/releases?active_only=true", headers=AUTH)
        assert [r["id"] for r in active.json()["items"]] == [back["id"]]

    async def test_first_release_has_nothing_to_roll_back_to(self, bay: Bay) -> None:
        only = await release(bay)
        response = await bay.client.post(f"/v1/skills/releases/{only['id']}/rollback", headers=AUTH)
        assert (response.status_code, response.json()["error"]["code"]) == (409, "conflict")

    async def test_deleted_previous_release_is_skipped(self, bay: Bay) -> None:
        first = await release(bay)
        second = await release(bay)
        third = await release(bay)
        await bay.client.delete(f"/v1/skills/releases/{second['id']}", headers=AUTH)
        response = await bay.client.post(
            f"/v1/skills/releases/{third['id']}/rollback", headers=AUTH
        )
        assert response.json()["candidate_id"] == first["candidate_id"]
        await bay.client.delete(f"/v1/skills/releases/{first['id']}", headers=AUTH)
        again = await bay.client.post(f"/v1/skills/releases/{third['id']}/rollback", headers=AUTH)
        assert again.status_code == 409

    async def test_other_owners_release_is_404(self, bay: Bay) -> None:
        await release(bay)
        second = await release(bay)
        theirs = await other_owner(bay)
        response = await bay.client.post(
            f"/v1/skills/releases/{second['id']}/rollback", headers=theirs
        )
        assert response.status_code == 404


class TestRacingPromotions:
    async def test_one_wins_and_the_other_is_409_or_next(self, bay: Bay) -> None:
        made = [await candidate(bay) for _ in range(2)]
        for each in made:
            await evaluate(bay, each["id"])
        answers = await asyncio.gather(*(promote(bay, each["id"]) for each in made))
        codes = sorted(a.status_code for a in answers)
        assert codes in ([200, 200], [200, 409])
        active = await bay.client.get("/v1/skills/releases?active_only=true", headers=AUTH)
        assert active.json()["total"] == 1
