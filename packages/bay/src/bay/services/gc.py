"""Garbage collection: idle sessions, expired sandboxes, orphan cargos and orphan instances.

Every task is idempotent and re-checks under the sandbox lock; one replica at a time runs a
cycle (a lease row in the database, renewed while the cycle runs), and `run_once(now)` drives
it in tests without sleeping.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from structlog.contextvars import bound_contextvars

from bay.config import GcSettings
from bay.db.models import Cargo, Sandbox, Session
from bay.drivers.base import DriverError
from bay.errors import BayError, GcBusyError
from bay.services import leases
from bay.services.clock import Clock
from bay.services.execs import LOST, settled_values
from bay.services.records import Records, Retention
from bay.services.sessions import Reconciler, SessionRuntime, SessionService
from bay.services.warm_pool import WarmPool
from bay.ship_client import ShipCallError
from shipyard_protocol.api import GcRunResult, GcStatus, GcTaskResult, GcTaskStatus

log = logging.getLogger(__name__)

TASKS = (
    "idle_session",
    "expired_sandbox",
    "orphan_cargo",
    "orphan_instance",
    "history_retention",
)
# The longest an execution runs (timeout 300 s) plus slack: a row still 'running' after this
# belongs to a Bay that stopped before completing it.
STALE_RUNNING_S = 300 + 120
LEASE = "gc"
# Renewed every third of this while a cycle runs: a replica that dies mid-cycle holds up the
# others' cycles this long at most.
LEASE_S = 60


class GcService:
    """Built once per process; its lock keeps cycles of this replica from overlapping."""

    def __init__(
        self,
        runtime: SessionRuntime,
        sessions: SessionService,
        settings: GcSettings,
        clock: Clock,
        pool: WarmPool | None = None,
        records: Records | None = None,
    ) -> None:
        self._records = records or Records(runtime.sessionmaker, Retention())
        self._rt = runtime
        self._sessions = sessions
        self._settings = settings
        self._clock = clock
        self._pool = pool
        self._lock = asyncio.Lock()

    async def status(self) -> GcStatus:
        """The schedule and its tasks, with the warm pool's depth and claim counts."""
        return GcStatus(
            warm_pool=await self._pool.status() if self._pool is not None else None,
            enabled=self._settings.enabled,
            is_running=self._lock.locked(),
            instance_id=self._rt.instance_id,
            interval_seconds=self._settings.interval_seconds,
            tasks={name: GcTaskStatus(enabled=self._enabled(name)) for name in TASKS},
        )

    async def run_once(
        self, now: datetime | None = None, tasks: list[str] | None = None
    ) -> GcRunResult:
        """One cycle of the named (else all enabled) tasks; 423 if a cycle is running here."""
        if self._lock.locked():
            raise GcBusyError("A GC cycle is already running")
        async with self._lock:
            return await self._cycle(now or self._clock(), tasks)

    async def loop(self) -> None:
        """The background schedule; errors are logged and the loop goes on."""
        while True:
            await asyncio.sleep(self._settings.interval_seconds)
            try:
                await self.run_once()
            except GcBusyError:
                continue
            except Exception:
                log.exception("GC cycle failed")

    async def _cycle(self, now: datetime, tasks: list[str] | None) -> GcRunResult:
        started = time.monotonic()
        names = [n for n in TASKS if (n in tasks if tasks is not None else self._enabled(n))]
        results: list[GcTaskResult] = []
        rt = self._rt
        held = leases.held(rt.sessionmaker, LEASE, rt.instance_id, now, self._clock, LEASE_S)
        async with held as ours:
            if ours:
                self._rt.metrics.gc_runs.inc()
                results = [await self._run_task(name, now) for name in names]
            else:
                busy = ["another Bay holds the GC lease"]
                results = [GcTaskResult(task_name=n, errors=list(busy)) for n in names]
        return GcRunResult(
            results=results,
            total_cleaned=sum(r.cleaned_count for r in results),
            total_errors=sum(len(r.errors) for r in results),
            duration_ms=int((time.monotonic() - started) * 1000),
        )

    async def _run_task(self, name: str, now: datetime) -> GcTaskResult:
        task: Callable[[datetime, GcTaskResult], Awaitable[None]] = getattr(self, f"_{name}")
        result = GcTaskResult(task_name=name)
        try:
            await task(now, result)
        except Exception as exc:
            log.exception("GC task %s failed", name)
            result.errors.append(f"Task failed: {exc}")
        self._rt.metrics.gc_reclaimed.labels(name).inc(result.cleaned_count)
        return result

    async def _idle_session(self, now: datetime, result: GcTaskResult) -> None:
        ids = await self._sandbox_ids(
            Sandbox.idle_expires_at < now, Sandbox.current_session_id.is_not(None)
        )
        for sandbox_id in ids:
            with bound_contextvars(sandbox_id=sandbox_id):
                work = self._sessions.reclaim_idle(sandbox_id, now)
                await self._count(result, work, "gc: idle session reclaimed")

    async def _expired_sandbox(self, now: datetime, result: GcTaskResult) -> None:
        for sandbox_id in await self._sandbox_ids(Sandbox.expires_at < now):
            with bound_contextvars(sandbox_id=sandbox_id):
                work = self._sessions.expire(sandbox_id, now)
                await self._count(result, work, "gc: expired sandbox deleted")

    async def _orphan_cargo(self, now: datetime, result: GcTaskResult) -> None:
        async with self._rt.sessionmaker() as db, db.begin():
            cargos = list(await db.scalars(select(Cargo).where(Cargo.managed.is_(True))))
            for cargo in cargos:
                manager = await db.get(Sandbox, cargo.managed_by_sandbox_id or "")
                if manager is None or manager.deleted_at is not None:
                    await self._rt.driver.delete_cargo(cargo.driver_ref)
                    await db.delete(cargo)
                    result.cleaned_count += 1
            known = set(await db.scalars(select(Cargo.id)))
        cutoff = (now - timedelta(seconds=self._settings.orphan_grace_seconds)).replace(tzinfo=UTC)
        cutoff_epoch = cutoff.timestamp()
        for storage in await self._rt.driver.list_cargos():
            if storage.cargo_id in known:
                continue
            if storage.created_at > cutoff_epoch:
                result.skipped_count += 1
                continue
            await self._rt.driver.delete_cargo(storage.driver_ref)
            result.cleaned_count += 1

    async def _orphan_instance(self, now: datetime, result: GcTaskResult) -> None:
        """This replica's instances without a session row, and the dead sessions of replicas
        whose lease ran out."""
        result.cleaned_count += await Reconciler(self._rt).gone_replicas(now)
        async with self._rt.sessionmaker() as db:
            refs = {s.id: s.driver_ref for s in await db.scalars(select(Session))}
        for instance in await self._rt.driver.list_instances():
            session_id = instance.labels.session_id
            if session_id in refs and refs[session_id] in (instance.ref, None):
                continue
            await self._rt.driver.stop(instance.ref)
            result.cleaned_count += 1

    async def _history_retention(self, now: datetime, result: GcTaskResult) -> None:
        """Settle rows a stopped Bay left running (from Ship if it still knows), then prune."""
        stale = await self._records.running_before(now - timedelta(seconds=STALE_RUNNING_S))
        for execution_id, sandbox_id in stale:
            await self._records.close(execution_id, await self._outcome(execution_id, sandbox_id))
            result.cleaned_count += 1
        result.cleaned_count += await self._records.prune(now)

    async def _outcome(self, execution_id: str, sandbox_id: str) -> dict[str, object]:
        endpoint = await self._sessions.running_endpoint(sandbox_id)
        if endpoint is not None:
            with contextlib.suppress(ShipCallError):
                state = await self._rt.ship.execution(endpoint, execution_id)
                if state.outcome is not None:
                    return settled_values(state.outcome)
        return dict(LOST)

    async def _count(self, result: GcTaskResult, work: Awaitable[bool], done: str) -> None:
        try:
            cleaned = await work
        except (BayError, DriverError) as exc:
            log.warning("%s failed: %s", result.task_name, exc)
            result.errors.append(str(exc))
            return
        if cleaned:
            log.info(done)
            result.cleaned_count += 1
        else:
            result.skipped_count += 1

    async def _sandbox_ids(self, *where: object) -> list[str]:
        async with self._rt.sessionmaker() as db:
            live = (Sandbox.deleted_at.is_(None), Sandbox.is_warm_pool.is_(False))
            query = select(Sandbox.id).where(*live, *where)  # type: ignore[arg-type]
            return list(await db.scalars(query))

    def _enabled(self, name: str) -> bool:
        task_settings = getattr(self._settings, name)
        return bool(task_settings.enabled)
