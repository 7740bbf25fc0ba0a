"""The upstream `shipyard-neo-sdk` from PyPI drives the skills lifecycle on our Bay, as an
upstream user would: payloads, candidates, evaluations, releases, health, rollback."""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from shipyard_neo import (
    BayClient,
    ConflictError,
    NotFoundError,
    SkillCandidateStatus,
    SkillReleaseStage,
    ValidationError,
)
from shipyard_neo.sandbox import Sandbox

from tests.contract.conftest import Target


@pytest.fixture
async def client(target: Target) -> AsyncIterator[BayClient]:
    async with BayClient(endpoint_url=target.url, access_token=target.api_key) as bay:
        yield bay


@pytest.fixture
async def sandbox(client: BayClient) -> AsyncIterator[Sandbox]:
    made = await client.create_sandbox(ttl=600)
    yield made
    await made.delete()


@pytest.fixture
def skill_key() -> str:
    """The contract Bay is shared by the whole session: each test gets its own key."""
    return f"compat-{uuid.uuid4().hex[:8]}"


async def passing_candidate(client: BayClient, sandbox: Sandbox, skill_key: str) -> str:
    run = await sandbox.shell.exec("echo step")
    assert run.execution_id is not None
    made = await client.skills.create_candidate(
        skill_key=skill_key, source_execution_ids=[run.execution_id]
    )
    await client.skills.evaluate_candidate(made.id, passed=True, score=0.95)
    return made.id


async def test_payload_round_trip(client: BayClient) -> None:
    payload = {"commands": ["open about:blank", "snapshot -i"]}
    created = await client.skills.create_payload(payload=payload, kind="browser")
    assert created.payload_ref.startswith("blob:")
    read = await client.skills.get_payload(created.payload_ref)
    assert (read.kind, read.payload) == ("browser", payload)
    with pytest.raises(NotFoundError):
        await client.skills.get_payload("blob:blob-000000000000")
    with pytest.raises(ValidationError):
        await client.skills.get_payload("not-a-ref")


async def test_candidate_create_list_get_evaluate(
    client: BayClient, sandbox: Sandbox, skill_key: str
) -> None:
    run = await sandbox.python.exec("print(6 * 7)")
    assert run.execution_id is not None
    payload = await client.skills.create_payload(payload={"code": "print(6 * 7)"})
    made = await client.skills.create_candidate(
        skill_key=skill_key,
        source_execution_ids=[run.execution_id],
        payload_ref=payload.payload_ref,
        summary="multiplies",
        preconditions={"python": True},
    )
    assert (made.status, made.skill_type) == (SkillCandidateStatus.DRAFT, "code")
    assert (await client.skills.get_candidate(made.id)).summary == "multiplies"

    evaluation = await client.skills.evaluate_candidate(made.id, passed=False, score=0.2)
    assert (evaluation.candidate_id, evaluation.passed) == (made.id, False)
    listed = await client.skills.list_candidates(status="rejected", skill_key=skill_key)
    assert (listed.total, [c.id for c in listed.items]) == (1, [made.id])
    with pytest.raises(ValidationError):
        await client.skills.list_candidates(status="shipped")
    with pytest.raises(ValidationError):
        await client.skills.create_candidate(
            skill_key=skill_key, source_execution_ids=["exec-000000000000"]
        )


async def test_release_lifecycle_with_health_and_rollback(
    client: BayClient, sandbox: Sandbox, skill_key: str
) -> None:
    skills = client.skills
    first_candidate = await passing_candidate(client, sandbox, skill_key)
    first = await skills.promote_candidate(first_candidate, stage=SkillReleaseStage.STABLE)
    assert (first.version, first.stage, first.is_active) == (1, SkillReleaseStage.STABLE, True)
    with pytest.raises(ConflictError):
        await skills.rollback_release(first.id)

    second_candidate = await passing_candidate(client, sandbox, skill_key)
    second = await skills.promote_candidate(second_candidate, change_summary="v2")
    assert (second.version, second.stage) == (2, SkillReleaseStage.CANARY)
    active = await skills.list_releases(skill_key=skill_key, active_only=True)
    assert [r.id for r in active.items] == [second.id]

    await sandbox.shell.exec("true", tags=f"skill:{skill_key},release:{second.id}")
    await sandbox.shell.exec("false", tags=f"skill:{skill_key},release:{second.id}")
    health = await skills.get_release_health(second.id)
    assert (health.samples, health.success_rate) == (2, 0.5)
    assert (health.should_rollback, health.healthy) == (True, False)

    with pytest.raises(ConflictError):
        await skills.delete_candidate(second_candidate)
    restored = await skills.rollback_release(second.id)
    assert (restored.version, restored.candidate_id, restored.rollback_of) == (
        3,
        first_candidate,
        second.id,
    )
    assert restored.stage == SkillReleaseStage.STABLE
    rolled_back = await skills.get_candidate(second_candidate)
    assert rolled_back.status == SkillCandidateStatus.ROLLED_BACK

    deleted = await skills.delete_release(restored.id, reason="done")
    assert (deleted["id"], deleted["delete_reason"]) == (restored.id, "done")
    listed = await skills.list_releases(skill_key=skill_key)
    assert {r.id for r in listed.items} == {first.id, second.id}
    await skills.delete_candidate(second_candidate, reason="superseded")
    with pytest.raises(NotFoundError):
        await skills.get_candidate(second_candidate)


async def test_promote_needs_a_passing_evaluation(
    client: BayClient, sandbox: Sandbox, skill_key: str
) -> None:
    run = await sandbox.shell.exec("true")
    assert run.execution_id is not None
    made = await client.skills.create_candidate(
        skill_key=skill_key, source_execution_ids=[run.execution_id]
    )
    with pytest.raises(ConflictError):
        await client.skills.promote_candidate(made.id)
    await client.skills.evaluate_candidate(made.id, passed=True)
    with pytest.raises(ValidationError):
        await client.skills.promote_candidate(made.id, stage="beta")


async def test_other_owners_skills_are_404(
    client: BayClient, target: Target, sandbox: Sandbox, skill_key: str
) -> None:
    candidate_id = await passing_candidate(client, sandbox, skill_key)
    released = await client.skills.promote_candidate(candidate_id)
    payload = await client.skills.create_payload(payload=[1])
    with target.client() as admin:
        other = admin.post("/v1/admin/keys", json={"owner": "compat-skills-other"}).json()
    async with BayClient(endpoint_url=target.url, access_token=other["api_key"]) as stranger:
        skills = stranger.skills
        calls: list[Callable[[], Awaitable[object]]] = [
            lambda: skills.get_candidate(candidate_id),
            lambda: skills.evaluate_candidate(candidate_id, passed=True),
            lambda: skills.promote_candidate(candidate_id),
            lambda: skills.delete_candidate(candidate_id),
            lambda: skills.get_release_health(released.id),
            lambda: skills.rollback_release(released.id),
            lambda: skills.delete_release(released.id),
            lambda: skills.get_payload(payload.payload_ref),
        ]
        for call in calls:
            with pytest.raises(NotFoundError):
                await call()
        assert (await stranger.skills.list_releases(skill_key=skill_key)).total == 0
