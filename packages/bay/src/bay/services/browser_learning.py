"""Browser learning: browser executions run with `learn` become skills, canaries, then stable.

A pass (`run_once`) claims up to `batch_size` finished browser executions whose learn_status
is `pending` (or `processing` under a claim older than CLAIM_STALE_S: the replica that took it
stopped mid-pass). The claim is a conditional UPDATE of rows selected FOR UPDATE SKIP LOCKED, so
Bays on one database never take the same execution twice. Each execution is then learned in one
transaction of its owner's data: a blob per segment (kind `browser_segment`, with `commands`,
which a skill run replays, and the trace's `steps`), a candidate (`created_by system:auto`,
skill key from a `skill:<key>` tag, else `browser-<sandbox id>`), its synthetic evaluation,
and, if it passes, a canary release. The execution ends `processed`, or `skipped` with
learn_error saying why (no trace, trace unreadable, no segment), or `error` if learning failed;
one that lost a race to publish a release of its key goes back to `pending` for the next pass.
Last, the pass reviews every active auto canary with the release health rules: a regressed one
is rolled back (or stops serving if nothing came before it), one whose window ended healthy is
promoted to stable.

`browser_segments` says how a trace is cut into segments and how they are evaluated. Of an
execution's passing segments only the one with the most actions is released: a key serves one
release at a time, so releasing each would replace the others at once.

Kill switch: with `browser_auto_release_enabled` off, passes still make and evaluate
candidates, but release none and promote no canary to stable; a regressed canary is still
rolled back, since that only returns to what served before.
"""

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession as DbSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from bay.config import BrowserLearningSettings
from bay.db.models import ExecutionHistory, SkillCandidate, SkillRelease
from bay.errors import ConflictError, InvalidRequestError
from bay.metrics import Metrics
from bay.services import release_health
from bay.services.blobs import BlobService, blob_payload
from bay.services.browser_segments import (
    MIN_ACTIONS,
    NothingToLearnError,
    Segment,
    Verdict,
    evaluate,
    segments,
    skill_key,
    trace_steps,
)
from bay.services.candidates import BROWSER_EXEC_TYPES, CandidateService
from bay.services.clock import Clock
from bay.services.releases import AUTO, ReleaseService
from shipyard_protocol.api import BrowserLearningResult
from shipyard_protocol.skills import (
    SkillCandidateCreate,
    SkillEvaluationCreate,
    SkillPromote,
    SkillReleaseStage,
)

log = logging.getLogger(__name__)

AUTO_ACTOR = "system:auto"
SEGMENT_KIND = "browser_segment"
BENCHMARK = "browser-learning-synthetic"
# A pass learns a batch in seconds; a claim this old belongs to a Bay that stopped mid-pass.
CLAIM_STALE_S = 600
PENDING, PROCESSING, PROCESSED, SKIPPED, ERROR = (
    "pending",
    "processing",
    "processed",
    "skipped",
    "error",
)

# The field of BrowserLearningResult that counts each final status.
COUNTERS = {PROCESSED: "processed", SKIPPED: "skipped", ERROR: "errors"}


@dataclass
class _Learned:
    """What one execution's transaction made, counted once it committed."""

    status: str
    candidates: int = 0
    canaries: int = 0


@dataclass
class _Made:
    candidate: SkillCandidate
    actions: int
    passed: bool


def thresholds(settings: BrowserLearningSettings) -> release_health.Thresholds:
    """The release health limits, for the API's health answers and the canary reviews alike."""
    return release_health.Thresholds(
        success_drop=settings.success_drop_threshold,
        error_rate_multiplier=settings.error_rate_multiplier_threshold,
    )


class BrowserLearning:
    """Built once per process; passes of several replicas share the work through claims."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[DbSession],
        settings: BrowserLearningSettings,
        auto_release: bool,
        clock: Clock,
        metrics: Metrics,
        write_turn: asyncio.Lock | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._settings = settings
        self._auto_release = auto_release
        self._clock = clock
        self._metrics = metrics
        self._turn = write_turn

    async def loop(self) -> None:
        """The background schedule; errors are logged and the loop goes on."""
        if not self._settings.run_on_startup:
            await asyncio.sleep(self._settings.interval)
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("browser learning pass failed")
            await asyncio.sleep(self._settings.interval)

    async def run_once(self) -> BrowserLearningResult:
        """Learn from one batch of pending executions, then review the auto canaries."""
        started = time.monotonic()
        result = BrowserLearningResult()
        claimed = await self._claim()
        result.claimed = len(claimed)
        for execution_id in claimed:
            await self._learn_one(execution_id, result)
        await self._review(result)
        result.duration_ms = int((time.monotonic() - started) * 1000)
        self._metrics.browser_learning_runs.inc()
        if claimed or result.promoted or result.rolled_back:
            log.info("browser learning: %s", result.model_dump_json())
        return result

    @contextlib.asynccontextmanager
    async def _unit(self) -> AsyncIterator[DbSession]:
        """One transaction; on SQLite it takes the write turn requests take (`api.deps`)."""
        turn = self._turn or contextlib.nullcontext()
        async with turn, self._sessionmaker() as db, db.begin():
            yield db

    async def _claim(self) -> list[str]:
        now = self._clock()
        history = ExecutionHistory
        stale = now - timedelta(seconds=CLAIM_STALE_S)
        wanted = (
            history.learn_enabled.is_(True),
            history.exec_type.in_(BROWSER_EXEC_TYPES),
            history.status == "finished",
            (history.learn_status == PENDING)
            | ((history.learn_status == PROCESSING) & (history.learn_processed_at < stale)),
        )
        oldest = (
            select(history.id)
            .where(*wanted)
            .order_by(history.created_at, history.id)
            .limit(self._settings.batch_size)
            .with_for_update(skip_locked=True)
        )
        async with self._unit() as db:
            # Two statements: PostgreSQL may run a locking subquery of an UPDATE more than once,
            # taking more rows than its LIMIT.
            ids = list(await db.scalars(oldest))
            if not ids:
                return []
            claim = (
                update(history)
                .where(history.id.in_(ids), *wanted)
                .values(learn_status=PROCESSING, learn_processed_at=now, learn_error=None)
                .returning(history.id)
                .execution_options(synchronize_session=False)
            )
            return sorted((await db.execute(claim)).scalars())

    async def _learn_one(self, execution_id: str, result: BrowserLearningResult) -> None:
        try:
            async with self._unit() as db:
                learned = await self._learn(db, execution_id)
        except ConflictError as exc:  # a release of its key was published at the same moment
            log.info("browser learning: execution %s goes back to pending: %s", execution_id, exc)
            await self._unclaim(execution_id, PENDING, f"retried: {exc}")
            return
        except Exception as exc:  # one execution's failure must not stop the pass
            log.exception("browser learning: execution %s failed", execution_id)
            await self._unclaim(execution_id, ERROR, f"learning failed: {exc}")
            learned = _Learned(ERROR)
        self._metrics.browser_learning_executions.labels(learned.status).inc()
        counter = COUNTERS[learned.status]
        setattr(result, counter, getattr(result, counter) + 1)
        result.candidates += learned.candidates
        result.canaries += learned.canaries
        self._metrics.browser_learning_candidates.inc(learned.candidates)
        self._metrics.browser_learning_releases.labels("canary").inc(learned.canaries)

    async def _learn(self, db: DbSession, execution_id: str) -> _Learned:
        row = await db.get(ExecutionHistory, execution_id, with_for_update=True)
        if row is None or row.learn_status != PROCESSING:
            return _Learned(SKIPPED)  # pruned meanwhile, or taken over as stale
        blobs = BlobService(db, self._clock)
        try:
            found = segments(trace_steps(await self._trace(blobs, row)))
            if not found:
                raise NothingToLearnError(
                    f"no segment: no run of {MIN_ACTIONS} or more successful actions "
                    "(read-only steps such as snapshot or get do not count)"
                )
        except NothingToLearnError as exc:
            return self._finish(row, SKIPPED, str(exc))
        candidates = CandidateService(db, blobs, self._clock)
        made = [await self._candidate(blobs, candidates, row, segment) for segment in found]
        learned = self._finish(row, PROCESSED, None)
        learned.candidates = len(made)
        passing = [each for each in made if each.passed]
        if passing and self._auto_release:
            best = max(passing, key=lambda each: each.actions)  # the first of equals
            releases = ReleaseService(db, candidates, self._clock, thresholds(self._settings))
            await self._canary(releases, best.candidate)
            learned.canaries = 1
        return learned

    async def _trace(self, blobs: BlobService, row: ExecutionHistory) -> object:
        if row.payload_ref is None:
            raise NothingToLearnError("no trace: the execution stored none")
        try:
            blob = await blobs.find(row.owner, row.payload_ref)
        except InvalidRequestError as exc:
            raise NothingToLearnError(f"trace unreadable: {exc}") from exc
        if blob is None:
            raise NothingToLearnError(f"trace not found: {row.payload_ref}")
        try:
            return blob_payload(blob)
        except ValueError as exc:
            raise NothingToLearnError("trace unreadable: not JSON") from exc

    def _finish(self, row: ExecutionHistory, status: str, error: str | None) -> _Learned:
        row.learn_status = status
        row.learn_error = error
        row.learn_processed_at = self._clock()
        return _Learned(status)

    async def _unclaim(self, execution_id: str, status: str, error: str) -> None:
        history = ExecutionHistory
        async with self._unit() as db:
            await db.execute(
                update(history)
                .where(history.id == execution_id, history.learn_status == PROCESSING)
                .values(learn_status=status, learn_error=error, learn_processed_at=self._clock())
            )

    async def _candidate(
        self,
        blobs: BlobService,
        candidates: CandidateService,
        row: ExecutionHistory,
        segment: Segment,
    ) -> _Made:
        """A blob, a candidate and its evaluation, all the owner's."""
        payload = {
            "kind": SEGMENT_KIND,
            "commands": segment.commands,
            "steps": segment.steps,
            "actions": segment.actions,
            "source_execution_id": row.id,
            "trace_ref": row.payload_ref,
        }
        ref = await blobs.put(row.owner, SEGMENT_KIND, payload)
        request = SkillCandidateCreate(
            skill_key=skill_key(row),
            source_execution_ids=[row.id],
            payload_ref=ref,
            summary=f"{segment.actions} browser actions learned from {row.id}",
        )
        candidate = await candidates.create(row.owner, request)
        candidate.created_by = AUTO_ACTOR
        verdict = evaluate(segment.actions, self._settings)
        evaluation = await candidates.evaluate(
            row.owner,
            candidate.id,
            SkillEvaluationCreate(
                passed=verdict.passed,
                score=verdict.score,
                benchmark_id=BENCHMARK,
                report=self._report(verdict, segment),
            ),
        )
        evaluation.evaluated_by = AUTO_ACTOR
        candidate.auto_release_eligible = verdict.passed
        candidate.auto_release_reason = self._reason(verdict)
        return _Made(candidate, segment.actions, verdict.passed)

    def _report(self, verdict: Verdict, segment: Segment) -> str:
        """The JSON the release health reads its baseline from."""
        settings = self._settings
        return json.dumps(
            {
                "synthetic": True,
                "actions": segment.actions,
                "score": verdict.score,
                "replay_success": verdict.replay_success,
                "error_rate": round(1.0 - verdict.replay_success, 6),
                "samples": verdict.samples,
                "thresholds": {
                    "score": settings.score_threshold,
                    "replay_success": settings.replay_success_threshold,
                    "samples": settings.min_samples,
                },
            }
        )

    def _reason(self, verdict: Verdict) -> str:
        settings = self._settings
        if not verdict.passed:
            return (
                f"did not pass: score {verdict.score} (needs {settings.score_threshold}), "
                f"samples {verdict.samples} (needs {settings.min_samples})"
            )
        if not self._auto_release:
            return "passed; not released: browser_auto_release_enabled is off"
        return f"passed: score {verdict.score}, samples {verdict.samples}"

    async def _canary(self, releases: ReleaseService, candidate: SkillCandidate) -> None:
        window = timedelta(hours=self._settings.canary_window_hours)
        request = SkillPromote(
            stage=SkillReleaseStage.CANARY.value, change_summary="learned from browser history"
        )
        release = await releases.promote(
            candidate.owner, candidate.id, request, mode=AUTO, health_window=window
        )
        release.promoted_by = AUTO_ACTOR

    async def _review(self, result: BrowserLearningResult) -> None:
        """Health-check each active auto canary; a failure of one is logged, the rest go on."""
        async with self._sessionmaker() as db:
            ids = list(
                await db.scalars(
                    select(SkillRelease.id)
                    .where(*_active_auto_canary())
                    .order_by(SkillRelease.promoted_at, SkillRelease.id)
                )
            )
        for release_id in ids:
            try:
                async with self._unit() as db:
                    action = await self._review_one(db, release_id)
            except ConflictError as exc:  # another pass published a release of the key
                log.info("browser learning: review of release %s deferred: %s", release_id, exc)
                continue
            except Exception:
                log.exception("browser learning: review of release %s failed", release_id)
                continue
            if action is not None:
                setattr(result, action, getattr(result, action) + 1)
                label = "rollback" if action == "rolled_back" else "stable"
                self._metrics.browser_learning_releases.labels(label).inc()

    async def _review_one(self, db: DbSession, release_id: str) -> str | None:
        """`rolled_back`, `promoted`, or None.

        The key is locked first, as publishing locks it, and the canary read again: of
        replicas reviewing it at once, the later ones find it served no more.
        """
        found = await db.get(SkillRelease, release_id)
        if found is None:
            return None
        candidates = CandidateService(db, BlobService(db, self._clock), self._clock)
        releases = ReleaseService(db, candidates, self._clock, thresholds(self._settings))
        await releases.lock_key(found.owner, found.skill_key)
        release = await db.scalar(
            select(SkillRelease)
            .where(SkillRelease.id == release_id, *_active_auto_canary())
            .execution_options(populate_existing=True)
        )
        if release is None:
            return None
        health = await releases.health(release.owner, release.id)
        if health.should_rollback:
            await self._roll_back(releases, release, health.rollback_reasons)
            return "rolled_back"
        if not (health.window_complete and self._auto_release):
            return None
        request = SkillPromote(
            stage=SkillReleaseStage.STABLE.value,
            change_summary=f"canary {release.id} stayed healthy through its window",
        )
        stable = await releases.promote(release.owner, release.candidate_id, request, mode=AUTO)
        stable.auto_promoted_from = release.id
        stable.promoted_by = AUTO_ACTOR
        return "promoted"

    async def _roll_back(
        self, releases: ReleaseService, release: SkillRelease, reasons: list[str]
    ) -> None:
        log.warning(
            "browser learning: canary %s of %s regressed: %s",
            release.id,
            release.skill_key,
            "; ".join(reasons),
        )
        if await releases.previous(release) is None:  # nothing served before: it just stops
            await releases.withdraw(release.owner, release.id)
            return
        restored = await releases.rollback(release.owner, release.id)
        restored.promoted_by = AUTO_ACTOR
        restored.change_summary = "automatic rollback: " + "; ".join(reasons)


def _active_auto_canary() -> tuple[Any, ...]:
    return (
        SkillRelease.is_active.is_(True),
        SkillRelease.deleted_at.is_(None),
        SkillRelease.release_mode == AUTO,
        SkillRelease.stage == SkillReleaseStage.CANARY.value,
    )
