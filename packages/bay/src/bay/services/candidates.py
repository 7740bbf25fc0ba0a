"""Skill candidates: made from the caller's executions, listed, evaluated and soft-deleted."""

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession as DbSession

from bay.db.models import ExecutionHistory, SkillCandidate, SkillEvaluation, SkillRelease
from bay.errors import ConflictError, InvalidRequestError, NotFoundError
from bay.services.blobs import BlobService, blob_payload
from bay.services.clock import Clock
from bay.services.ids import new_id
from shipyard_protocol.skills import SkillCandidate as CandidateOut
from shipyard_protocol.skills import (
    SkillCandidateCreate,
    SkillCandidateList,
    SkillCandidateStatus,
    SkillDeleted,
    SkillEvaluationCreate,
)
from shipyard_protocol.skills import SkillEvaluation as EvaluationOut

BROWSER_EXEC_TYPES = frozenset({"browser", "browser_batch"})


def candidate_status(value: str) -> SkillCandidateStatus:
    try:
        return SkillCandidateStatus(value)
    except ValueError as exc:
        allowed = [status.value for status in SkillCandidateStatus]
        raise InvalidRequestError(
            f"Invalid candidate status {value!r}", {"status": value, "allowed": allowed}
        ) from exc


class CandidateService:
    def __init__(self, db: DbSession, blobs: BlobService, clock: Clock) -> None:
        self._db = db
        self._blobs = blobs
        self._clock = clock

    async def create(self, owner: str, request: SkillCandidateCreate) -> SkillCandidate:
        """A `draft` candidate; `browser` typed when all its executions were browser ones."""
        skill_key = request.skill_key.strip()
        if not skill_key:
            raise InvalidRequestError("skill_key must not be blank", {"field": "skill_key"})
        exec_types = await self._source_types(owner, request.source_execution_ids)
        if request.payload_ref is not None and (
            await self._blobs.find(owner, request.payload_ref) is None
        ):
            raise InvalidRequestError(
                f"Payload not found: {request.payload_ref}", {"field": "payload_ref"}
            )
        now = self._clock()
        candidate = SkillCandidate(
            id=new_id("sc"),
            owner=owner,
            skill_key=skill_key,
            scenario_key=request.scenario_key,
            payload_ref=request.payload_ref,
            skill_type="browser" if exec_types <= BROWSER_EXEC_TYPES else "code",
            auto_release_eligible=False,
            summary=request.summary,
            usage_notes=request.usage_notes,
            preconditions=request.preconditions,
            postconditions=request.postconditions,
            source_execution_ids=list(dict.fromkeys(request.source_execution_ids)),
            status=SkillCandidateStatus.DRAFT.value,
            created_by=owner,
            created_at=now,
            updated_at=now,
        )
        self._db.add(candidate)
        await self._db.flush()
        return candidate

    async def _source_types(self, owner: str, execution_ids: list[str]) -> set[str]:
        """The exec types of the caller's executions `execution_ids`: 400 if any is not one."""
        if not execution_ids:
            raise InvalidRequestError(
                "source_execution_ids must name at least one execution",
                {"field": "source_execution_ids"},
            )
        rows = await self._db.execute(
            select(ExecutionHistory.id, ExecutionHistory.exec_type).where(
                ExecutionHistory.id.in_(execution_ids), ExecutionHistory.owner == owner
            )
        )
        found = {eid: exec_type for eid, exec_type in rows}
        missing = [eid for eid in dict.fromkeys(execution_ids) if eid not in found]
        if missing:
            raise InvalidRequestError(
                f"Unknown source executions: {', '.join(missing)}",
                {"field": "source_execution_ids", "missing": missing},
            )
        return set(found.values())

    async def get(self, owner: str, candidate_id: str) -> SkillCandidate:
        """The caller's candidate; a deleted one is 404 like a missing one."""
        candidate = await self._db.scalar(
            select(SkillCandidate).where(
                SkillCandidate.id == candidate_id,
                SkillCandidate.owner == owner,
                SkillCandidate.deleted_at.is_(None),
            )
        )
        if candidate is None:
            raise NotFoundError(f"Skill candidate not found: {candidate_id}")
        return candidate

    async def commands(self, owner: str, candidate_id: str) -> list[str]:
        """The browser commands the candidate's payload replays: a JSON object whose
        `commands` is a non-empty list of strings, else 400."""
        candidate = await self.get(owner, candidate_id)
        if candidate.payload_ref is None:
            raise InvalidRequestError(
                f"Skill candidate {candidate_id} has no payload to run",
                {"candidate_id": candidate_id},
            )
        payload = blob_payload(await self._blobs.get(owner, candidate.payload_ref))
        commands = payload.get("commands") if isinstance(payload, dict) else None
        if (
            not isinstance(commands, list)
            or not commands
            or not all(isinstance(c, str) and c.strip() for c in commands)
        ):
            raise InvalidRequestError(
                f"Payload {candidate.payload_ref} has no non-empty `commands` list of strings",
                {"payload_ref": candidate.payload_ref},
            )
        return commands

    async def page(
        self, owner: str, status: str | None, skill_key: str | None, limit: int, offset: int
    ) -> SkillCandidateList:
        where = [SkillCandidate.owner == owner, SkillCandidate.deleted_at.is_(None)]
        if status is not None:
            where.append(SkillCandidate.status == candidate_status(status).value)
        if skill_key is not None:
            where.append(SkillCandidate.skill_key == skill_key)
        total = await self._db.scalar(
            select(func.count()).select_from(SkillCandidate).where(*where)
        )
        rows = await self._db.scalars(
            select(SkillCandidate)
            .where(*where)
            .order_by(SkillCandidate.created_at.desc(), SkillCandidate.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return SkillCandidateList(items=[candidate_out(row) for row in rows], total=total or 0)

    async def evaluate(
        self, owner: str, candidate_id: str, request: SkillEvaluationCreate
    ) -> SkillEvaluation:
        """Record a verdict: the candidate is `evaluating` if it passed, `rejected` if not."""
        candidate = await self.get(owner, candidate_id)
        now = self._clock()
        evaluation = SkillEvaluation(
            id=new_id("se"),
            owner=owner,
            candidate_id=candidate.id,
            benchmark_id=request.benchmark_id,
            score=request.score,
            passed=request.passed,
            report=request.report,
            evaluated_by=owner,
            created_at=now,
        )
        passed = (
            SkillCandidateStatus.EVALUATING if request.passed else SkillCandidateStatus.REJECTED
        )
        candidate.status = passed.value
        candidate.latest_score = request.score
        candidate.latest_pass = request.passed
        candidate.last_evaluated_at = now
        candidate.updated_at = now
        self._db.add(evaluation)
        await self._db.flush()
        return evaluation

    async def latest_evaluation(self, owner: str, candidate_id: str) -> SkillEvaluation | None:
        return await self._db.scalar(
            select(SkillEvaluation)
            .where(SkillEvaluation.candidate_id == candidate_id, SkillEvaluation.owner == owner)
            .order_by(SkillEvaluation.created_at.desc(), SkillEvaluation.id.desc())
            .limit(1)
        )

    async def delete(self, owner: str, candidate_id: str, reason: str | None) -> SkillDeleted:
        """Soft delete; 409 while an active release serves this candidate."""
        candidate = await self.get(owner, candidate_id)
        serving = list(
            await self._db.scalars(
                select(SkillRelease.id).where(
                    SkillRelease.owner == owner,
                    SkillRelease.candidate_id == candidate.id,
                    SkillRelease.is_active.is_(True),
                    SkillRelease.deleted_at.is_(None),
                )
            )
        )
        if serving:
            raise ConflictError(
                f"Skill candidate {candidate_id} is served by an active release",
                {"active_release_ids": serving},
            )
        now = self._clock()
        candidate.deleted_at = candidate.updated_at = now
        candidate.deleted_by = owner
        candidate.delete_reason = reason
        await self._db.flush()
        return SkillDeleted(id=candidate.id, deleted_at=now, deleted_by=owner, delete_reason=reason)


def candidate_out(row: SkillCandidate) -> CandidateOut:
    return CandidateOut(
        id=row.id,
        skill_key=row.skill_key,
        scenario_key=row.scenario_key,
        payload_ref=row.payload_ref,
        skill_type=row.skill_type,
        auto_release_eligible=row.auto_release_eligible,
        auto_release_reason=row.auto_release_reason,
        summary=row.summary,
        usage_notes=row.usage_notes,
        preconditions=row.preconditions,
        postconditions=row.postconditions,
        source_execution_ids=list(row.source_execution_ids),
        status=SkillCandidateStatus(row.status),
        latest_score=row.latest_score,
        latest_pass=row.latest_pass,
        last_evaluated_at=row.last_evaluated_at,
        promotion_release_id=row.promotion_release_id,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        is_deleted=row.deleted_at is not None,
        deleted_at=row.deleted_at,
        deleted_by=row.deleted_by,
        delete_reason=row.delete_reason,
    )


def evaluation_out(row: SkillEvaluation) -> EvaluationOut:
    return EvaluationOut(
        id=row.id,
        candidate_id=row.candidate_id,
        benchmark_id=row.benchmark_id,
        score=row.score,
        passed=row.passed,
        report=row.report,
        evaluated_by=row.evaluated_by,
        created_at=row.created_at,
    )
