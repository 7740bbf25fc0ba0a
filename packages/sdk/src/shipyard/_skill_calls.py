"""The request builder for `/v1/skills`, shared by `AsyncSkills` and `Skills`."""

from typing import Any
from urllib.parse import quote

from shipyard._requests import Call, checked, model
from shipyard_protocol import skills

BASE = "/v1/skills"


def _segment(value: str) -> str:
    return quote(value, safe="")


def _query(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


def create_payload(payload: dict[str, Any] | list[Any], kind: str) -> Call[skills.SkillPayloadRef]:
    body = checked(skills.SkillPayloadCreate, payload=payload, kind=kind).model_dump()
    return Call("POST", f"{BASE}/payloads", model(skills.SkillPayloadRef), body)


def get_payload(payload_ref: str) -> Call[skills.SkillPayload]:
    # `blob:` stays readable: the route takes the rest of the path as the reference.
    url = f"{BASE}/payloads/{quote(payload_ref, safe=':')}"
    return Call("GET", url, model(skills.SkillPayload))


def create_candidate(**fields: Any) -> Call[skills.SkillCandidate]:
    body = checked(skills.SkillCandidateCreate, **fields).model_dump(exclude_none=True)
    return Call("POST", f"{BASE}/candidates", model(skills.SkillCandidate), body)


def list_candidates(
    status: str | None, skill_key: str | None, limit: int, offset: int
) -> Call[skills.SkillCandidateList]:
    params = _query(status=status, skill_key=skill_key, limit=limit, offset=offset)
    return Call("GET", f"{BASE}/candidates", model(skills.SkillCandidateList), params=params)


def get_candidate(candidate_id: str) -> Call[skills.SkillCandidate]:
    url = f"{BASE}/candidates/{_segment(candidate_id)}"
    return Call("GET", url, model(skills.SkillCandidate))


def evaluate_candidate(candidate_id: str, **fields: Any) -> Call[skills.SkillEvaluation]:
    body = checked(skills.SkillEvaluationCreate, **fields).model_dump(exclude_none=True)
    url = f"{BASE}/candidates/{_segment(candidate_id)}/evaluate"
    return Call("POST", url, model(skills.SkillEvaluation), body)


def promote_candidate(candidate_id: str, **fields: Any) -> Call[skills.SkillRelease]:
    body = checked(skills.SkillPromote, **fields).model_dump(exclude_none=True)
    url = f"{BASE}/candidates/{_segment(candidate_id)}/promote"
    return Call("POST", url, model(skills.SkillRelease), body)


def delete_candidate(candidate_id: str, reason: str | None) -> Call[skills.SkillDeleted]:
    url = f"{BASE}/candidates/{_segment(candidate_id)}"
    body = skills.SkillDelete(reason=reason).model_dump(exclude_none=True)
    return Call("DELETE", url, model(skills.SkillDeleted), body)


def list_releases(
    skill_key: str | None, active_only: bool, stage: str | None, limit: int, offset: int
) -> Call[skills.SkillReleaseList]:
    params = _query(skill_key=skill_key, stage=stage, limit=limit, offset=offset)
    if active_only:
        params["active_only"] = "true"
    return Call("GET", f"{BASE}/releases", model(skills.SkillReleaseList), params=params)


def release_health(release_id: str) -> Call[skills.SkillReleaseHealth]:
    url = f"{BASE}/releases/{_segment(release_id)}/health"
    return Call("GET", url, model(skills.SkillReleaseHealth))


def delete_release(release_id: str, reason: str | None) -> Call[skills.SkillDeleted]:
    url = f"{BASE}/releases/{_segment(release_id)}"
    body = skills.SkillDelete(reason=reason).model_dump(exclude_none=True)
    return Call("DELETE", url, model(skills.SkillDeleted), body)


def rollback_release(release_id: str) -> Call[skills.SkillRelease]:
    url = f"{BASE}/releases/{_segment(release_id)}/rollback"
    return Call("POST", url, model(skills.SkillRelease))
