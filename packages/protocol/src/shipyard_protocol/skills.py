"""Bay's public skills models (bay-api-v1.md §1.10): payloads, candidates, evaluations, releases.

Enumerated query and body fields (`status`, `stage`) are plain strings on the way in: the
contract answers a value outside the enum with 400 `validation_error`, which Bay checks.
"""

import json
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field

from shipyard_protocol.api import Text, Timestamp

MAX_SKILL_KEY = 128
MAX_SOURCE_EXECUTIONS = 100


def _storable(value: Any) -> Any:
    """JSON that any database and client can hold: finite numbers, valid Unicode."""
    try:
        json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except ValueError as exc:  # UnicodeEncodeError is one too
        raise ValueError("must be plain JSON: finite numbers and valid Unicode only") from exc
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(_storable)]
JsonDocument = Annotated[dict[str, Any] | list[Any], AfterValidator(_storable)]


class SkillCandidateStatus(StrEnum):
    """Where a candidate stands; `promoted_canary`/`promoted_stable` mark auto browser releases."""

    DRAFT = "draft"
    EVALUATING = "evaluating"
    PROMOTED = "promoted"
    PROMOTED_CANARY = "promoted_canary"
    PROMOTED_STABLE = "promoted_stable"
    REJECTED = "rejected"
    ROLLED_BACK = "rolled_back"


class SkillReleaseStage(StrEnum):
    CANARY = "canary"
    STABLE = "stable"


class SkillPayloadCreate(BaseModel):
    """`POST /v1/skills/payloads` body: any JSON object or array, stored as a blob."""

    payload: JsonDocument
    kind: Text = Field(default="generic", min_length=1, max_length=64)


class SkillPayloadRef(BaseModel):
    """A stored payload's reference (`blob:blob-…`) and kind."""

    payload_ref: str
    kind: str


class SkillPayload(SkillPayloadRef):
    """`GET /v1/skills/payloads/{payload_ref}`."""

    payload: dict[str, Any] | list[Any]


class SkillCandidateCreate(BaseModel):
    """`POST /v1/skills/candidates` body.

    `skill_key` must not be blank and every id in `source_execution_ids` must name one of the
    caller's executions (400 otherwise); `payload_ref`, when given, one of the caller's blobs.
    """

    skill_key: Text = Field(max_length=MAX_SKILL_KEY)
    source_execution_ids: list[Text] = Field(max_length=MAX_SOURCE_EXECUTIONS)
    scenario_key: Text | None = Field(default=None, max_length=MAX_SKILL_KEY)
    payload_ref: Text | None = None
    summary: Text | None = None
    usage_notes: Text | None = None
    preconditions: JsonObject | None = None
    postconditions: JsonObject | None = None


class SkillCandidate(BaseModel):
    """A reusable piece of agent work, born from executions, waiting to be evaluated."""

    id: str
    skill_key: str
    scenario_key: str | None
    payload_ref: str | None
    skill_type: str = Field(description="`browser` when every source execution is a browser one")
    auto_release_eligible: bool
    auto_release_reason: str | None
    summary: str | None
    usage_notes: str | None
    preconditions: dict[str, Any] | None
    postconditions: dict[str, Any] | None
    source_execution_ids: list[str]
    status: SkillCandidateStatus
    latest_score: float | None
    latest_pass: bool | None
    last_evaluated_at: Timestamp | None
    promotion_release_id: str | None
    created_by: str | None
    created_at: Timestamp
    updated_at: Timestamp
    is_deleted: bool
    deleted_at: Timestamp | None
    deleted_by: str | None
    delete_reason: str | None


class SkillCandidateList(BaseModel):
    """A page of candidates, newest first, deleted ones left out."""

    items: list[SkillCandidate]
    total: int


class SkillEvaluationCreate(BaseModel):
    """`POST …/candidates/{id}/evaluate` body; a JSON `report` may carry a health baseline
    (`replay_success`, `error_rate`, `samples`)."""

    passed: bool
    score: float | None = Field(default=None, allow_inf_nan=False)
    benchmark_id: Text | None = None
    report: Text | None = None


class SkillEvaluation(BaseModel):
    id: str
    candidate_id: str
    benchmark_id: str | None
    score: float | None
    passed: bool
    report: str | None
    evaluated_by: str | None
    created_at: Timestamp


class SkillPromote(BaseModel):
    """`POST …/candidates/{id}/promote` body; `stage` is `canary` or `stable`."""

    stage: Text = SkillReleaseStage.CANARY.value
    upgrade_of_release_id: Text | None = None
    upgrade_reason: Text | None = None
    change_summary: Text | None = None


class SkillRelease(BaseModel):
    """A numbered version of a skill; at most one release per skill key is active."""

    id: str
    skill_key: str
    candidate_id: str
    version: int
    stage: SkillReleaseStage
    is_active: bool
    release_mode: str = Field(description="`manual`, or `auto` for browser learning")
    promoted_by: str | None
    promoted_at: Timestamp
    rollback_of: str | None
    auto_promoted_from: str | None
    health_window_end_at: Timestamp | None
    upgrade_of_release_id: str | None
    upgrade_reason: str | None
    change_summary: str | None
    is_deleted: bool
    deleted_at: Timestamp | None
    deleted_by: str | None
    delete_reason: str | None


class SkillReleaseList(BaseModel):
    """A page of releases, newest promotion first, deleted ones left out."""

    items: list[SkillRelease]
    total: int


class SkillDelete(BaseModel):
    """The optional body of a candidate or release delete."""

    reason: Text | None = None


class SkillDeleted(BaseModel):
    """What a soft delete answers."""

    id: str
    deleted_at: Timestamp
    deleted_by: str | None
    delete_reason: str | None


class SkillReleaseHealth(BaseModel):
    """A release's executions (tagged `release:{id}`) in its health window, against a baseline.

    The baseline is the previous release's window, else the latest evaluation's JSON report,
    else a perfect record. `should_rollback` when the success rate fell by more than
    `thresholds.success_drop` or the error rate grew more than `thresholds.error_rate_multiplier`
    times (a zero baseline error rate counts as 1%). Durations are milliseconds.
    """

    release_id: str
    skill_key: str
    stage: str
    window_start_at: Timestamp
    window_end_at: Timestamp
    window_complete: bool
    samples: int
    success_rate: float
    error_rate: float
    p95_duration: int
    baseline_success_rate: float
    baseline_error_rate: float
    baseline_samples: int
    success_drop: float
    error_rate_multiplier: float
    healthy: bool
    should_rollback: bool
    rollback_reasons: list[str]
    thresholds: dict[str, float]
