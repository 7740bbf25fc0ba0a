"""Skills routes (control plane): payload blobs, candidates and their evaluations, releases."""

from typing import Annotated

from fastapi import APIRouter, Body, Query

from bay.api.deps import Blobs, Caller, Candidates, Releases
from bay.services.candidates import candidate_out, evaluation_out
from bay.services.releases import release_out
from shipyard_protocol.api import MAX_INT64
from shipyard_protocol.skills import (
    SkillCandidate,
    SkillCandidateCreate,
    SkillCandidateList,
    SkillDelete,
    SkillDeleted,
    SkillEvaluation,
    SkillEvaluationCreate,
    SkillPayload,
    SkillPayloadCreate,
    SkillPayloadRef,
    SkillPromote,
    SkillRelease,
    SkillReleaseHealth,
    SkillReleaseList,
)

router = APIRouter(prefix="/v1/skills", tags=["skills"])

Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=MAX_INT64)]
DeleteBody = Annotated[SkillDelete | None, Body()]


@router.post("/payloads", status_code=201)
async def create_payload(body: SkillPayloadCreate, caller: Caller, blobs: Blobs) -> SkillPayloadRef:
    return await blobs.create_payload(caller.owner, body)


@router.get("/payloads/{payload_ref:path}")
async def get_payload(payload_ref: str, caller: Caller, blobs: Blobs) -> SkillPayload:
    return await blobs.payload(caller.owner, payload_ref)


@router.post("/candidates", status_code=201)
async def create_candidate(
    body: SkillCandidateCreate, caller: Caller, candidates: Candidates
) -> SkillCandidate:
    return candidate_out(await candidates.create(caller.owner, body))


@router.get("/candidates")
async def list_candidates(
    caller: Caller,
    candidates: Candidates,
    status: str | None = None,
    skill_key: str | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> SkillCandidateList:
    return await candidates.page(caller.owner, status, skill_key, limit, offset)


@router.get("/candidates/{candidate_id}")
async def get_candidate(
    candidate_id: str, caller: Caller, candidates: Candidates
) -> SkillCandidate:
    return candidate_out(await candidates.get(caller.owner, candidate_id))


@router.post("/candidates/{candidate_id}/evaluate")
async def evaluate_candidate(
    candidate_id: str, body: SkillEvaluationCreate, caller: Caller, candidates: Candidates
) -> SkillEvaluation:
    return evaluation_out(await candidates.evaluate(caller.owner, candidate_id, body))


@router.post("/candidates/{candidate_id}/promote")
async def promote_candidate(
    candidate_id: str,
    caller: Caller,
    releases: Releases,
    body: Annotated[SkillPromote | None, Body()] = None,
) -> SkillRelease:
    request = body or SkillPromote()
    return release_out(await releases.promote(caller.owner, candidate_id, request))


@router.delete("/candidates/{candidate_id}")
async def delete_candidate(
    candidate_id: str, caller: Caller, candidates: Candidates, body: DeleteBody = None
) -> SkillDeleted:
    reason = body.reason if body else None
    return await candidates.delete(caller.owner, candidate_id, reason)


@router.get("/releases")
async def list_releases(
    caller: Caller,
    releases: Releases,
    skill_key: str | None = None,
    active_only: bool = False,
    stage: str | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> SkillReleaseList:
    return await releases.page(caller.owner, skill_key, active_only, stage, limit, offset)


@router.get("/releases/{release_id}/health")
async def release_health(release_id: str, caller: Caller, releases: Releases) -> SkillReleaseHealth:
    return await releases.health(caller.owner, release_id)


@router.delete("/releases/{release_id}")
async def delete_release(
    release_id: str, caller: Caller, releases: Releases, body: DeleteBody = None
) -> SkillDeleted:
    reason = body.reason if body else None
    return await releases.delete(caller.owner, release_id, reason)


@router.post("/releases/{release_id}/rollback")
async def rollback_release(release_id: str, caller: Caller, releases: Releases) -> SkillRelease:
    return release_out(await releases.rollback(caller.owner, release_id))
