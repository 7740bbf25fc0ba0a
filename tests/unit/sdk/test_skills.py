"""`client.skills`, on Bay in-process (async) and in a thread (sync)."""

from collections.abc import Awaitable, Callable

import pytest

from shipyard import (
    AsyncClient,
    Client,
    ConflictError,
    InvalidArgumentError,
    InvalidRequestError,
    NotFoundError,
)
from tests.unit.bay.conftest import Bay


async def passing_candidate(aclient: AsyncClient, skill_key: str = "login") -> str:
    sandbox = await aclient.sandboxes.create()
    run = await sandbox.shell.run("true")
    made = await aclient.skills.create_candidate(
        skill_key=skill_key, source_execution_ids=[run.execution_id]
    )
    await aclient.skills.evaluate_candidate(made.id, passed=True, score=0.9)
    return made.id


class TestPayloads:
    async def test_round_trip(self, aclient: AsyncClient) -> None:
        created = await aclient.skills.create_payload(payload={"commands": ["snapshot"]})
        read = await aclient.skills.get_payload(created.payload_ref)
        assert (read.kind, read.payload) == ("generic", {"commands": ["snapshot"]})

    async def test_unknown_ref_raises_not_found(self, aclient: AsyncClient) -> None:
        with pytest.raises(NotFoundError):
            await aclient.skills.get_payload("blob:blob-000000000000")

    async def test_non_finite_number_is_refused_before_sending(self, aclient: AsyncClient) -> None:
        with pytest.raises(InvalidArgumentError):
            await aclient.skills.create_payload(payload={"x": float("nan")})


class TestLifecycle:
    async def test_promote_roll_back_and_delete(self, aclient: AsyncClient) -> None:
        skills = aclient.skills
        first = await skills.promote_candidate(await passing_candidate(aclient), stage="stable")
        second_id = await passing_candidate(aclient)
        second = await skills.promote_candidate(second_id, change_summary="v2")
        assert (first.version, second.version, second.stage) == (1, 2, "canary")
        listed = await skills.list_candidates(skill_key="login", status="promoted")
        assert listed.total == 2
        health = await skills.get_release_health(second.id)
        assert (health.samples, health.healthy) == (0, True)
        with pytest.raises(ConflictError):
            await skills.delete_candidate(second_id)
        back = await skills.rollback_release(second.id)
        assert (back.version, back.candidate_id, back.rollback_of) == (
            3,
            first.candidate_id,
            second.id,
        )
        assert (await skills.get_candidate(second_id)).status == "rolled_back"
        active = await skills.list_releases(skill_key="login", active_only=True)
        assert [r.id for r in active.items] == [back.id]
        deleted = await skills.delete_release(back.id, reason="cleanup")
        assert deleted.delete_reason == "cleanup"
        assert (await skills.delete_candidate(second_id)).id == second_id
        with pytest.raises(NotFoundError):
            await skills.get_candidate(second_id)

    async def test_bay_refusals_raise_typed_errors(self, aclient: AsyncClient) -> None:
        with pytest.raises(InvalidRequestError):
            await aclient.skills.list_candidates(status="shipped")
        with pytest.raises(InvalidRequestError):
            await aclient.skills.create_candidate(
                skill_key="x", source_execution_ids=["exec-000000000000"]
            )
        only = await aclient.skills.promote_candidate(await passing_candidate(aclient))
        with pytest.raises(ConflictError):
            await aclient.skills.rollback_release(only.id)


async def test_another_owners_skills_are_not_found(aclient: AsyncClient, bay_app: Bay) -> None:
    candidate_id = await passing_candidate(aclient, "mine")
    released = await aclient.skills.promote_candidate(candidate_id)
    payload = await aclient.skills.create_payload(payload=[1])
    key = (await aclient.admin.keys.create("skills-stranger")).api_key
    transport = bay_app.client._transport
    async with AsyncClient("http://bay", key, transport=transport) as stranger:
        skills = stranger.skills
        calls: list[Callable[[], Awaitable[object]]] = [
            lambda: skills.get_payload(payload.payload_ref),
            lambda: skills.get_candidate(candidate_id),
            lambda: skills.evaluate_candidate(candidate_id, passed=True),
            lambda: skills.promote_candidate(candidate_id),
            lambda: skills.delete_candidate(candidate_id),
            lambda: skills.get_release_health(released.id),
            lambda: skills.rollback_release(released.id),
            lambda: skills.delete_release(released.id),
        ]
        for call in calls:
            with pytest.raises(NotFoundError):
                await call()
        assert (await skills.list_candidates(skill_key="mine")).total == 0
        assert (await skills.list_releases(skill_key="mine")).total == 0


class TestSyncClient:
    def test_candidate_to_release(self, client: Client) -> None:
        run = client.sandboxes.create().shell.run("true")
        made = client.skills.create_candidate(
            skill_key="sync", source_execution_ids=[run.execution_id]
        )
        with pytest.raises(ConflictError):
            client.skills.promote_candidate(made.id)
        client.skills.evaluate_candidate(made.id, passed=True)
        released = client.skills.promote_candidate(made.id)
        assert client.skills.list_releases(skill_key="sync").items[0].id == released.id
