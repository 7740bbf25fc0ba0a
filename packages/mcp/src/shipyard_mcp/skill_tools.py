"""Tools for the skills lifecycle: payloads, candidates made from executions, releases."""

from typing import Annotated, Any

from pydantic import Field

from shipyard_mcp import text
from shipyard_mcp.tools import Tools, answered

CandidateId = Annotated[str, Field(description="A candidate id, sc-….")]
ReleaseId = Annotated[str, Field(description="A release id, sr-….")]
Reason = Annotated[str | None, Field(description="Why, recorded with the deletion.")]
Limit = Annotated[int, Field(ge=1, le=500, description="Page size.")]
Offset = Annotated[int, Field(ge=0, description="Skip this many.")]
Conditions = Annotated[dict[str, Any] | None, Field(description="A JSON object.")]


class SkillTools(Tools):
    """Skills: turn executions into candidates, evaluate, release, roll back."""

    @answered
    async def create_skill_payload(
        self,
        payload: Annotated[
            dict[str, Any] | list[Any],
            Field(description='JSON to store, e.g. {"commands": ["open …", "click @e2"]}.'),
        ],
        kind: Annotated[str, Field(description="What the payload is.")] = "generic",
    ) -> str:
        """Store a JSON payload for a candidate; answers its payload_ref."""
        made = await self._client.skills.create_payload(payload=payload, kind=kind)
        return f"Payload {made.payload_ref} (kind {made.kind})"

    @answered
    async def get_skill_payload(
        self, payload_ref: Annotated[str, Field(description="A payload ref, blob:….")]
    ) -> str:
        """Show a stored payload."""
        return self._bounded(text.skill_payload(await self._client.skills.get_payload(payload_ref)))

    @answered
    async def create_skill_candidate(
        self,
        skill_key: Annotated[str, Field(description="The skill this is a version of.")],
        source_execution_ids: Annotated[
            list[str], Field(min_length=1, description="Your executions it is made from.")
        ],
        scenario_key: str | None = None,
        payload_ref: Annotated[str | None, Field(description="From create_skill_payload.")] = None,
        summary: str | None = None,
        usage_notes: str | None = None,
        preconditions: Conditions = None,
        postconditions: Conditions = None,
    ) -> str:
        """Make a draft candidate from executions; evaluate it, then promote it."""
        made = await self._client.skills.create_candidate(
            skill_key=skill_key,
            source_execution_ids=source_execution_ids,
            scenario_key=scenario_key,
            payload_ref=payload_ref,
            summary=summary,
            usage_notes=usage_notes,
            preconditions=preconditions,
            postconditions=postconditions,
        )
        return self._bounded(text.skill_candidate(made))

    @answered
    async def get_skill_candidate(self, candidate_id: CandidateId) -> str:
        """Show one candidate: status, score, sources, release."""
        found = await self._client.skills.get_candidate(candidate_id)
        return self._bounded(text.skill_candidate(found))

    @answered
    async def list_skill_candidates(
        self,
        status: Annotated[
            str | None, Field(description="draft, evaluating, promoted, rejected, rolled_back, …")
        ] = None,
        skill_key: str | None = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> str:
        """List candidates, newest first."""
        page = await self._client.skills.list_candidates(
            status=status, skill_key=skill_key, limit=limit, offset=offset
        )
        return self._bounded(text.skill_candidates(page, offset))

    @answered
    async def evaluate_skill_candidate(
        self,
        candidate_id: CandidateId,
        passed: bool,
        score: float | None = None,
        benchmark_id: str | None = None,
        report: str | None = None,
    ) -> str:
        """Record an evaluation; a failed one rejects the candidate, a passed one lets it be
        promoted."""
        done = await self._client.skills.evaluate_candidate(
            candidate_id, passed=passed, score=score, benchmark_id=benchmark_id, report=report
        )
        return text.skill_evaluation(done)

    @answered
    async def promote_skill_candidate(
        self,
        candidate_id: CandidateId,
        stage: Annotated[str, Field(description="canary or stable.")] = "canary",
        upgrade_of_release_id: str | None = None,
        upgrade_reason: str | None = None,
        change_summary: str | None = None,
    ) -> str:
        """Release a candidate whose latest evaluation passed, as the skill's new active
        version."""
        release = await self._client.skills.promote_candidate(
            candidate_id,
            stage=stage,
            upgrade_of_release_id=upgrade_of_release_id,
            upgrade_reason=upgrade_reason,
            change_summary=change_summary,
        )
        return text.skill_release(release)

    @answered
    async def delete_skill_candidate(self, candidate_id: CandidateId, reason: Reason = None) -> str:
        """Delete a candidate that no active release serves."""
        deleted = await self._client.skills.delete_candidate(candidate_id, reason=reason)
        return f"Candidate {deleted.id} deleted"

    @answered
    async def list_skill_releases(
        self,
        skill_key: str | None = None,
        active_only: bool = False,
        stage: Annotated[str | None, Field(description="canary or stable.")] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> str:
        """List releases, newest first."""
        page = await self._client.skills.list_releases(
            skill_key=skill_key, active_only=active_only, stage=stage, limit=limit, offset=offset
        )
        return self._bounded(text.skill_releases(page, offset))

    @answered
    async def get_skill_release_health(self, release_id: ReleaseId) -> str:
        """A release's success and error rates since it was promoted, against the previous
        one, and whether to roll it back."""
        health = await self._client.skills.get_release_health(release_id)
        return text.skill_health(health)

    @answered
    async def rollback_skill_release(self, release_id: ReleaseId) -> str:
        """Serve the previous release's candidate again, as a new active version."""
        return text.skill_release(await self._client.skills.rollback_release(release_id))

    @answered
    async def delete_skill_release(self, release_id: ReleaseId, reason: Reason = None) -> str:
        """Delete a release, active or not."""
        deleted = await self._client.skills.delete_release(release_id, reason=reason)
        return f"Release {deleted.id} deleted"
