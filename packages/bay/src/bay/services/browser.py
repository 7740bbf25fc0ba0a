"""Browser execution: agent-browser commands in the sandbox's browser, their history rows and
traces, and skill releases replayed as batches.

Like Python and shell executions, a warm call commits twice: the history row opens in the
transaction that finds the session running, and closes (with its trace) in one of its own.
"""

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession as DbSession
from structlog.contextvars import bind_contextvars

from bay.db.models import ArtifactBlob
from bay.errors import BayError, NotFoundError, ShipError
from bay.metrics import Metrics
from bay.services.blobs import BlobService, blob_payload, blob_ref, new_blob
from bay.services.capabilities import SandboxRef
from bay.services.clock import Clock
from bay.services.execs import normalize_tags, renewal
from bay.services.ids import new_id
from bay.services.profiles import ProfileCatalog
from bay.services.records import Records, clip
from bay.services.releases import ReleaseService
from bay.services.sessions import Ready, SessionService
from bay.ship_session import SessionShip, ShipNotReachedError
from shipyard_protocol.api import (
    BrowserBatchExec,
    BrowserBatchResult,
    BrowserExec,
    BrowserExecResult,
    BrowserStepResult,
    BrowserTrace,
    SkillRun,
    SkillRunResult,
)
from shipyard_protocol.ship import BrowserBatch, BrowserBatchRun, BrowserRun, BrowserStep

# Each step's stdout and stderr in a stored trace, at most (UTF-8 bytes; head and tail kept).
TRACE_FIELD_BYTES = 64 * 1024

TRACE_KIND = "browser_trace"
T = TypeVar("T")


@dataclass(frozen=True)
class Job:
    """One browser execution as its history row records it."""

    exec_type: str  # browser | browser_batch
    code: str
    description: str | None
    tags: str | None
    learn: bool
    include_trace: bool

    @property
    def keeps_trace(self) -> bool:
        return self.learn or self.include_trace


@dataclass(frozen=True)
class Done(Generic[T]):
    """A finished execution: Ship's outcome, Bay's timing, and the trace kept (if any)."""

    execution_id: str
    outcome: T
    elapsed_ms: int
    trace_ref: str | None


class BrowserService:
    def __init__(
        self,
        db: DbSession,
        sessions: SessionService,
        profiles: ProfileCatalog,
        records: Records,
        releases: ReleaseService,
        blobs: BlobService,
        clock: Clock,
        metrics: Metrics,
    ) -> None:
        self._db = db
        self._sessions = sessions
        self._profiles = profiles
        self._records = records
        self._releases = releases
        self._blobs = blobs
        self._clock = clock
        self._metrics = metrics

    async def exec(self, sandbox: SandboxRef, request: BrowserExec) -> BrowserExecResult:
        job = Job(
            "browser",
            request.cmd,
            request.description,
            normalize_tags(request.tags),
            request.learn,
            request.include_trace,
        )
        run = BrowserRun(cmd=request.cmd, timeout=request.timeout)
        done = await self._run(sandbox, job, lambda ship: _exec_on(ship, run), _step_record)
        step = done.outcome
        return BrowserExecResult(
            success=step.exit_code == 0 and not step.timed_out,
            output=step.stdout.strip(),
            error=_step_error(step),
            exit_code=step.exit_code,
            execution_id=done.execution_id,
            execution_time_ms=done.elapsed_ms,
            trace_ref=done.trace_ref if job.include_trace else None,
        )

    async def batch(self, sandbox: SandboxRef, request: BrowserBatchExec) -> BrowserBatchResult:
        job = Job(
            "browser_batch",
            "\n".join(request.commands),
            request.description,
            normalize_tags(request.tags),
            request.learn,
            request.include_trace,
        )
        run = BrowserBatchRun(
            commands=request.commands, timeout=request.timeout, stop_on_error=request.stop_on_error
        )
        return await self._batch(sandbox, job, run)

    async def run_skill(
        self, sandbox: SandboxRef, skill_key: str, request: SkillRun
    ) -> SkillRunResult:
        """Replay the active release of `skill_key` as one batch tagged with the release."""
        replay = await self._releases.replay(sandbox.owner, skill_key)
        # The batch lasts long: hold no connection meanwhile (as the capability check does).
        await self._db.commit()
        release_tags = f"skill:{replay.skill_key},release:{replay.release_id},stage:{replay.stage}"
        job = Job(
            "browser_batch",
            "\n".join(replay.commands),
            request.description,
            normalize_tags(f"{release_tags},{request.tags or ''}"),
            False,
            request.include_trace,
        )
        run = BrowserBatchRun(
            commands=replay.commands, timeout=request.timeout, stop_on_error=request.stop_on_error
        )
        result = await self._batch(sandbox, job, run)
        return SkillRunResult(
            **result.model_dump(), skill_key=replay.skill_key, release_id=replay.release_id
        )

    async def trace(self, owner: str, trace_ref: str) -> BrowserTrace:
        """A stored trace: 400 for a ref that is not `blob:…`, 404 for any other blob."""
        blob = await self._blobs.find(owner, trace_ref)
        if blob is None or blob.kind != TRACE_KIND:
            raise NotFoundError(f"Trace not found: {trace_ref}", {"trace_ref": trace_ref})
        return BrowserTrace(trace_ref=trace_ref, trace=blob_payload(blob))

    async def _batch(
        self, sandbox: SandboxRef, job: Job, run: BrowserBatchRun
    ) -> BrowserBatchResult:
        done = await self._run(sandbox, job, lambda ship: _batch_on(ship, run), _batch_record)
        batch = done.outcome
        return BrowserBatchResult(
            results=[_step_out(step) for step in batch.results],
            total_steps=batch.total_steps,
            completed_steps=batch.completed_steps,
            success=batch.success,
            duration_ms=batch.duration_ms,
            execution_id=done.execution_id,
            execution_time_ms=done.elapsed_ms,
            trace_ref=done.trace_ref if job.include_trace else None,
        )

    async def _run(
        self,
        sandbox: SandboxRef,
        job: Job,
        send: Callable[[SessionShip], Awaitable[T]],
        record: Callable[[T], tuple[dict[str, object], dict[str, Any]]],
    ) -> Done[T]:
        """Open the history row, run on Ship, close the row with the trace: no outcome (Ship
        failed or was not reached), no history (contract §1.6)."""
        execution_id = new_id("exec")
        bind_contextvars(execution_id=execution_id)
        started = time.monotonic()
        ready = await self._open(sandbox, job, execution_id)
        try:
            outcome = await self._send(sandbox, job, execution_id, ready, send)
        except BayError:
            await self._records.forget(execution_id)
            raise
        latency = self._metrics.exec_latency.labels(job.exec_type, self._metrics.driver)
        latency.observe(time.monotonic() - started)
        elapsed_ms = int((time.monotonic() - started) * 1000)
        values, trace = record(outcome)
        rows: list[ArtifactBlob] = []
        if job.keeps_trace:
            rows.append(new_blob(sandbox.owner, TRACE_KIND, trace, self._clock()))
        trace_ref = blob_ref(rows[0]) if rows else None
        values |= {"execution_time_ms": elapsed_ms, "payload_ref": trace_ref}
        lease = renewal(self._profiles, self._clock, sandbox, started)
        await self._records.close(execution_id, values, lease, rows)
        return Done(execution_id, outcome, elapsed_ms, trace_ref)

    async def _open(self, sandbox: SandboxRef, job: Job, execution_id: str) -> Ready:
        async def opening(db: DbSession, ready: Ready) -> None:
            row = history_row(sandbox, ready.session_id, job, execution_id, self._clock())
            await self._records.open(db, row)

        return await self._sessions.ensure_running(sandbox.id, False, opening)

    async def _send(
        self,
        sandbox: SandboxRef,
        job: Job,
        execution_id: str,
        ready: Ready,
        send: Callable[[SessionShip], Awaitable[T]],
    ) -> T:
        """As for Python and shell: a Ship never reached ran nothing, so once the driver
        says its session is gone the commands run in a new one."""
        try:
            return await send(ready.ship)
        except ShipNotReachedError:
            await self._records.forget(execution_id)
            again = await self._open(sandbox, job, execution_id)
            if again.session_id == ready.session_id:
                raise
            return await send(again.ship)


def history_row(
    sandbox: SandboxRef, session_id: str, job: Job, execution_id: str, now: datetime
) -> dict[str, object]:
    return dict(
        id=execution_id,
        owner=sandbox.owner,
        sandbox_id=sandbox.id,
        session_id=session_id,
        exec_type=job.exec_type,
        code=job.code,
        success=False,
        execution_time_ms=0,
        description=job.description,
        tags=job.tags,
        learn_enabled=job.learn,
        learn_status="pending" if job.learn else "skipped",
        created_at=now,
    )


async def _exec_on(ship: SessionShip, run: BrowserRun) -> BrowserStep:
    """The command as Bay sent it, whatever Ship echoes: code in the sandbox that answered
    for its Ship must not write the commands a learned skill replays."""
    step = await ship.browser(run)
    return step.model_copy(update={"cmd": run.cmd, "step_index": 0})


async def _batch_on(ship: SessionShip, run: BrowserBatchRun) -> BrowserBatch:
    batch = await ship.browser_batch(run)
    if batch.total_steps != len(run.commands) or len(batch.results) > len(run.commands):
        raise ShipError("Ship answered for another batch than the one it was sent")
    steps = [
        step.model_copy(update={"cmd": cmd, "step_index": index})
        for index, (cmd, step) in enumerate(zip(run.commands, batch.results, strict=False))
    ]
    return batch.model_copy(update={"results": steps})


def _step_error(step: BrowserStep) -> str | None:
    stderr = step.stderr.strip()
    if not stderr and step.timed_out:
        return "Command timed out"
    return stderr or None


def _step_trace(step: BrowserStep, with_duration: bool) -> dict[str, Any]:
    trace: dict[str, Any] = {
        "kind": "individual_action",
        "cmd": step.cmd,
        # Kept like history's fields (head and tail): a trace is a record, not a download.
        "stdout": clip(step.stdout, TRACE_FIELD_BYTES),
        "stderr": clip(step.stderr, TRACE_FIELD_BYTES),
        "exit_code": step.exit_code,
        "step_index": step.step_index,
    }
    if with_duration:
        trace["duration_ms"] = step.duration_ms
    return trace


def _step_record(step: BrowserStep) -> tuple[dict[str, object], dict[str, Any]]:
    values: dict[str, object] = {
        "success": step.exit_code == 0 and not step.timed_out,
        "output": step.stdout.strip(),
        "error": _step_error(step),
        "exit_code": step.exit_code,
    }
    return values, {"kind": "browser_exec_trace", "steps": [_step_trace(step, False)]}


def _batch_record(batch: BrowserBatch) -> tuple[dict[str, object], dict[str, Any]]:
    stdouts = [step.stdout.strip() for step in batch.results if step.stdout.strip()]
    stderrs = [step.stderr.strip() for step in batch.results if step.stderr.strip()]
    values: dict[str, object] = {
        "success": batch.success,
        "output": "\n".join(stdouts),
        "error": "\n".join(stderrs) or None,
        "exit_code": None,
    }
    trace = {
        "kind": "browser_batch_trace",
        "steps": [_step_trace(step, True) for step in batch.results],
        "total_steps": batch.total_steps,
        "completed_steps": batch.completed_steps,
        "success": batch.success,
        "duration_ms": batch.duration_ms,
    }
    return values, trace


def _step_out(step: BrowserStep) -> BrowserStepResult:
    return BrowserStepResult(
        cmd=step.cmd,
        stdout=step.stdout,
        stderr=step.stderr,
        exit_code=step.exit_code,
        step_index=step.step_index,
        duration_ms=step.duration_ms,
    )
