"""Skill releases: promotion into numbered versions, listing, soft delete, rollback, health.

At most one release per owner and skill key is active: each new one deactivates the rest.
On PostgreSQL, publishing a version holds a lock on the key (`lock_key`), so publishers of one
key take turns; versions are also unique per owner and key (a database index), so promotions
racing anyway (on SQLite) end in one 409 instead of two active releases.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession as DbSession

from bay.db.models import ExecutionHistory, SkillCandidate, SkillRelease
from bay.errors import ConflictError, InvalidRequestError, NotFoundError
from bay.services import release_health
from bay.services.candidates import CandidateService
from bay.services.clock import Clock
from bay.services.ids import new_id
from shipyard_protocol.skills import (
    SkillCandidateStatus,
    SkillDeleted,
    SkillPromote,
    SkillReleaseHealth,
    SkillReleaseList,
    SkillReleaseStage,
)
from shipyard_protocol.skills import SkillRelease as ReleaseOut

MANUAL = "manual"
AUTO = "auto"


@dataclass(frozen=True)
class Replay:
    """A skill release to run: its id, key, stage, and the browser commands it replays."""

    release_id: str
    skill_key: str
    stage: str
    commands: list[str]


def release_stage(value: str) -> SkillReleaseStage:
    try:
        return SkillReleaseStage(value)
    except ValueError as exc:
        allowed = [stage.value for stage in SkillReleaseStage]
        raise InvalidRequestError(
            f"Invalid release stage {value!r}", {"stage": value, "allowed": allowed}
        ) from exc


class ReleaseService:
    def __init__(
        self,
        db: DbSession,
        candidates: CandidateService,
        clock: Clock,
        limits: release_health.Thresholds = release_health.DEFAULT_THRESHOLDS,
    ) -> None:
        self._db = db
        self._candidates = candidates
        self._clock = clock
        self._limits = limits

    async def promote(
        self,
        owner: str,
        candidate_id: str,
        request: SkillPromote,
        mode: str = MANUAL,
        health_window: timedelta | None = None,
    ) -> SkillRelease:
        """A new active version from a candidate whose latest evaluation passed (else 409).

        `mode=AUTO` (browser learning) marks the candidate `promoted_<stage>`.
        """
        stage = release_stage(request.stage)
        candidate = await self._candidates.get(owner, candidate_id)
        if candidate.latest_pass is not True:
            raise ConflictError(
                f"Skill candidate {candidate_id} has no passing evaluation",
                {"candidate_id": candidate_id, "status": candidate.status},
            )
        if request.upgrade_of_release_id is not None:
            upgraded = await self._find(owner, request.upgrade_of_release_id)
            if upgraded is None or upgraded.skill_key != candidate.skill_key:
                raise InvalidRequestError(
                    f"No release {request.upgrade_of_release_id} of {candidate.skill_key}",
                    {"field": "upgrade_of_release_id"},
                )
        now = self._clock()
        release = await self._publish(owner, candidate, stage.value, mode, now)
        release.health_window_end_at = now + health_window if health_window else None
        release.upgrade_of_release_id = request.upgrade_of_release_id
        release.upgrade_reason = request.upgrade_reason
        release.change_summary = request.change_summary
        status = SkillCandidateStatus.PROMOTED.value
        if mode == AUTO:
            status = f"promoted_{stage.value}"
        candidate.status = status
        candidate.promotion_release_id = release.id
        candidate.updated_at = now
        await self._db.flush()
        return release

    async def _publish(
        self, owner: str, candidate: SkillCandidate, stage: str, mode: str, now: datetime
    ) -> SkillRelease:
        """The next version of the candidate's key, active, all others deactivated."""
        key = candidate.skill_key
        await self.lock_key(owner, key)
        newest = await self._db.scalar(
            select(func.max(SkillRelease.version)).where(
                SkillRelease.owner == owner, SkillRelease.skill_key == key
            )
        )
        await self._db.execute(
            update(SkillRelease)
            .where(SkillRelease.owner == owner, SkillRelease.skill_key == key)
            .values(is_active=False)
        )
        release = SkillRelease(
            id=new_id("sr"),
            owner=owner,
            skill_key=key,
            candidate_id=candidate.id,
            version=(newest or 0) + 1,
            stage=stage,
            is_active=True,
            release_mode=mode,
            promoted_by=owner,
            promoted_at=now,
        )
        self._db.add(release)
        try:
            await self._db.flush()
        except IntegrityError as exc:
            raise ConflictError(
                f"Another release of {key} was published at the same time; try again",
                {"skill_key": key},
            ) from exc
        return release

    async def lock_key(self, owner: str, skill_key: str) -> None:
        """Hold the key until the transaction ends, so its publishers take turns and each
        reads the newest version the one before committed. A PostgreSQL advisory lock: row
        locks on the key's releases would miss the first release, and a version inserted
        meanwhile (uncommitted, then committed) deadlocks them; SQLite has one writer anyway."""
        if self._db.get_bind().dialect.name != "postgresql":
            return
        await self._db.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"skill-release:{owner}:{skill_key}"},
        )

    async def _find(self, owner: str, release_id: str) -> SkillRelease | None:
        return await self._db.scalar(
            select(SkillRelease).where(
                SkillRelease.id == release_id,
                SkillRelease.owner == owner,
                SkillRelease.deleted_at.is_(None),
            )
        )

    async def get(self, owner: str, release_id: str) -> SkillRelease:
        """The caller's release; a deleted one is 404 like a missing one."""
        release = await self._find(owner, release_id)
        if release is None:
            raise NotFoundError(f"Skill release not found: {release_id}")
        return release

    async def active(self, owner: str, skill_key: str) -> SkillRelease | None:
        """The release that serves `skill_key` now (what a skill run replays)."""
        return await self._db.scalar(
            select(SkillRelease).where(
                SkillRelease.owner == owner,
                SkillRelease.skill_key == skill_key,
                SkillRelease.is_active.is_(True),
                SkillRelease.deleted_at.is_(None),
            )
        )

    async def replay(self, owner: str, skill_key: str) -> Replay:
        """What a skill run replays: the active release's commands (404 without one)."""
        release = await self.active(owner, skill_key)
        if release is None:
            raise NotFoundError(f"No active release of skill {skill_key}", {"skill_key": skill_key})
        commands = await self._candidates.commands(owner, release.candidate_id)
        return Replay(release.id, release.skill_key, release.stage, commands)

    async def page(
        self,
        owner: str,
        skill_key: str | None,
        active_only: bool,
        stage: str | None,
        limit: int,
        offset: int,
    ) -> SkillReleaseList:
        where = [SkillRelease.owner == owner, SkillRelease.deleted_at.is_(None)]
        if skill_key is not None:
            where.append(SkillRelease.skill_key == skill_key)
        if active_only:
            where.append(SkillRelease.is_active.is_(True))
        if stage is not None:
            where.append(SkillRelease.stage == release_stage(stage).value)
        total = await self._db.scalar(select(func.count()).select_from(SkillRelease).where(*where))
        rows = await self._db.scalars(
            select(SkillRelease)
            .where(*where)
            .order_by(SkillRelease.promoted_at.desc(), SkillRelease.version.desc())
            .limit(limit)
            .offset(offset)
        )
        return SkillReleaseList(items=[release_out(row) for row in rows], total=total or 0)

    async def delete(self, owner: str, release_id: str, reason: str | None) -> SkillDeleted:
        """Soft delete, active or not; candidates stop pointing at it."""
        release = await self.get(owner, release_id)
        now = self._clock()
        release.is_active = False
        release.deleted_at = now
        release.deleted_by = owner
        release.delete_reason = reason
        await self._db.execute(
            update(SkillCandidate)
            .where(SkillCandidate.owner == owner, SkillCandidate.promotion_release_id == release.id)
            .values(promotion_release_id=None, updated_at=now)
        )
        await self._db.flush()
        return SkillDeleted(id=release.id, deleted_at=now, deleted_by=owner, delete_reason=reason)

    async def rollback(self, owner: str, release_id: str) -> SkillRelease:
        """A new version serving the previous release's candidate and stage (409 if none)."""
        release = await self.get(owner, release_id)
        previous = await self.previous(release)
        if previous is None:
            raise ConflictError(
                f"Skill release {release_id} has no earlier release to roll back to",
                {"release_id": release_id, "skill_key": release.skill_key},
            )
        restored = await self._candidates.get(owner, previous.candidate_id)
        now = self._clock()
        await self._rolled_back(release, now)
        created = await self._publish(owner, restored, previous.stage, MANUAL, now)
        created.rollback_of = release.id
        restored.status = SkillCandidateStatus.PROMOTED.value
        restored.promotion_release_id = created.id
        restored.updated_at = now
        await self._db.flush()
        return created

    async def withdraw(self, owner: str, release_id: str) -> SkillRelease:
        """Stop serving a release that has no earlier one to roll back to; its candidate is
        `rolled_back` (browser learning, for a regressed first canary)."""
        release = await self.get(owner, release_id)
        release.is_active = False
        await self._rolled_back(release, self._clock())
        await self._db.flush()
        return release

    async def _rolled_back(self, release: SkillRelease, now: datetime) -> None:
        # An inactive release's candidate may be deleted already; it is then left alone.
        current = await self._db.get(SkillCandidate, release.candidate_id)
        if current is not None and current.deleted_at is None:
            current.status = SkillCandidateStatus.ROLLED_BACK.value
            current.updated_at = now

    async def previous(self, release: SkillRelease) -> SkillRelease | None:
        """The newest earlier version, not deleted, whose candidate still exists."""
        return await self._db.scalar(
            select(SkillRelease)
            .join(SkillCandidate, SkillCandidate.id == SkillRelease.candidate_id)
            .where(
                SkillRelease.owner == release.owner,
                SkillRelease.skill_key == release.skill_key,
                SkillRelease.version < release.version,
                SkillRelease.deleted_at.is_(None),
                SkillCandidate.deleted_at.is_(None),
            )
            .order_by(SkillRelease.version.desc())
            .limit(1)
        )

    async def health(self, owner: str, release_id: str) -> SkillReleaseHealth:
        release = await self.get(owner, release_id)
        span = release_health.window(release.promoted_at, release.health_window_end_at)
        current = release_health.metrics(await self._samples(release, span))
        baseline = await self._baseline(release)
        now = self._clock()
        return release_health.judge(
            release.id, release.skill_key, release.stage, span, now, current, baseline, self._limits
        )

    async def _baseline(self, release: SkillRelease) -> release_health.Metrics:
        """The previous release's window, else the latest evaluation's report, else perfect."""
        previous = await self.previous(release)
        if previous is not None:
            span = release_health.window(previous.promoted_at, previous.health_window_end_at)
            measured = release_health.metrics(await self._samples(previous, span))
            if measured.samples:
                return measured
        evaluation = await self._candidates.latest_evaluation(release.owner, release.candidate_id)
        reported = release_health.report_baseline(evaluation.report if evaluation else None)
        return reported or release_health.PERFECT

    async def _samples(
        self, release: SkillRelease, span: release_health.Window
    ) -> list[release_health.Sample]:
        """Finished executions in the window whose tags hold `release:{id}` exactly."""
        tag = f"release:{release.id}"
        rows = await self._db.execute(
            select(
                ExecutionHistory.tags,
                ExecutionHistory.success,
                ExecutionHistory.execution_time_ms,
            ).where(
                ExecutionHistory.owner == release.owner,
                ExecutionHistory.tags.contains(tag),
                ExecutionHistory.status == "finished",
                ExecutionHistory.created_at >= span.start,
                ExecutionHistory.created_at <= span.end,
            )
        )
        return [
            release_health.Sample(success, duration)
            for tags, success, duration in rows
            if tag in (tags or "").split(",")
        ]


def release_out(row: SkillRelease) -> ReleaseOut:
    return ReleaseOut(
        id=row.id,
        skill_key=row.skill_key,
        candidate_id=row.candidate_id,
        version=row.version,
        stage=SkillReleaseStage(row.stage),
        is_active=row.is_active,
        release_mode=row.release_mode,
        promoted_by=row.promoted_by,
        promoted_at=row.promoted_at,
        rollback_of=row.rollback_of,
        auto_promoted_from=row.auto_promoted_from,
        health_window_end_at=row.health_window_end_at,
        upgrade_of_release_id=row.upgrade_of_release_id,
        upgrade_reason=row.upgrade_reason,
        change_summary=row.change_summary,
        is_deleted=row.deleted_at is not None,
        deleted_at=row.deleted_at,
        deleted_by=row.deleted_by,
        delete_reason=row.delete_reason,
    )
