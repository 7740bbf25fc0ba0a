# generated from _async_skills.py by scripts/unasync.py; do not edit
"""`Skills`: `client.skills`, the skills lifecycle (payloads, candidates, releases)."""

import builtins
from typing import TYPE_CHECKING, Any

from shipyard import _skill_calls as req
from shipyard_protocol import skills

if TYPE_CHECKING:
    from shipyard._sync import Client

JsonObject = dict[str, Any]


class Skills:
    """`client.skills`: turn executions into candidates, evaluate them, release and roll back.

    Method names and arguments follow the upstream `shipyard-neo-sdk`'s `SkillManager`.
    Another owner's candidates, releases and payloads raise `NotFoundError`.
    """

    def __init__(self, client: "Client") -> None:
        self._client = client

    def create_payload(
        self, *, payload: JsonObject | builtins.list[Any], kind: str = "generic"
    ) -> skills.SkillPayloadRef:
        """Store a JSON object or array; answers its `payload_ref` (`blob:blob-…`)."""
        return self._client._call(req.create_payload(payload, kind))

    def get_payload(self, payload_ref: str) -> skills.SkillPayload:
        """A stored payload by reference."""
        return self._client._call(req.get_payload(payload_ref))

    def create_candidate(
        self,
        *,
        skill_key: str,
        source_execution_ids: builtins.list[str],
        scenario_key: str | None = None,
        payload_ref: str | None = None,
        summary: str | None = None,
        usage_notes: str | None = None,
        preconditions: JsonObject | None = None,
        postconditions: JsonObject | None = None,
    ) -> skills.SkillCandidate:
        """A `draft` candidate made from your executions (`InvalidRequestError` for others)."""
        call = req.create_candidate(
            skill_key=skill_key,
            source_execution_ids=source_execution_ids,
            scenario_key=scenario_key,
            payload_ref=payload_ref,
            summary=summary,
            usage_notes=usage_notes,
            preconditions=preconditions,
            postconditions=postconditions,
        )
        return self._client._call(call)

    def list_candidates(
        self,
        *,
        status: str | None = None,
        skill_key: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> skills.SkillCandidateList:
        """One page of candidates, newest first, with the `total`."""
        return self._client._call(req.list_candidates(status, skill_key, limit, offset))

    def get_candidate(self, candidate_id: str) -> skills.SkillCandidate:
        """One candidate by id."""
        return self._client._call(req.get_candidate(candidate_id))

    def evaluate_candidate(
        self,
        candidate_id: str,
        *,
        passed: bool,
        score: float | None = None,
        benchmark_id: str | None = None,
        report: str | None = None,
    ) -> skills.SkillEvaluation:
        """Record an evaluation: the candidate becomes `evaluating`, or `rejected` if failed."""
        call = req.evaluate_candidate(
            candidate_id, passed=passed, score=score, benchmark_id=benchmark_id, report=report
        )
        return self._client._call(call)

    def promote_candidate(
        self,
        candidate_id: str,
        *,
        stage: str = "canary",
        upgrade_of_release_id: str | None = None,
        upgrade_reason: str | None = None,
        change_summary: str | None = None,
    ) -> skills.SkillRelease:
        """Release a candidate whose latest evaluation passed (`ConflictError` otherwise)."""
        call = req.promote_candidate(
            candidate_id,
            stage=stage,
            upgrade_of_release_id=upgrade_of_release_id,
            upgrade_reason=upgrade_reason,
            change_summary=change_summary,
        )
        return self._client._call(call)

    def delete_candidate(
        self, candidate_id: str, *, reason: str | None = None
    ) -> skills.SkillDeleted:
        """Soft-delete a candidate (`ConflictError` while an active release serves it)."""
        return self._client._call(req.delete_candidate(candidate_id, reason))

    def list_releases(
        self,
        *,
        skill_key: str | None = None,
        active_only: bool = False,
        stage: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> skills.SkillReleaseList:
        """One page of releases, newest first, with the `total`."""
        call = req.list_releases(skill_key, active_only, stage, limit, offset)
        return self._client._call(call)

    def get_release_health(self, release_id: str) -> skills.SkillReleaseHealth:
        """The release's success and error rates in its window, and whether to roll back."""
        return self._client._call(req.release_health(release_id))

    def delete_release(self, release_id: str, *, reason: str | None = None) -> skills.SkillDeleted:
        """Soft-delete a release, active or not."""
        return self._client._call(req.delete_release(release_id, reason))

    def rollback_release(self, release_id: str) -> skills.SkillRelease:
        """A new active version serving the previous release's candidate (`ConflictError`
        when there is none)."""
        return self._client._call(req.rollback_release(release_id))
