"""Sessions: `ensure_running` turns a sandbox into a ready Ship, and nothing else does."""

import logging
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession as DbSession
from sqlalchemy.ext.asyncio import async_sessionmaker
from structlog.contextvars import bind_contextvars

from bay.db.models import Cargo, Sandbox, Session
from bay.drivers.base import (
    Driver,
    DriverError,
    InstanceInfo,
    InstanceState,
    Labels,
    SessionSpec,
)
from bay.egress.stats import Traffic
from bay.errors import NotFoundError, SessionNotReadyError
from bay.metrics import Metrics
from bay.services import networks
from bay.services.clock import Clock
from bay.services.ids import new_id
from bay.services.locks import SandboxLocks
from bay.services.profiles import ProfileCatalog
from bay.services.recent_sandboxes import RecentSandboxes
from bay.services.ship_logs import relay
from bay.ship_client import ShipCallError, ShipClient

log = logging.getLogger(__name__)

RUNNING = "running"
STARTING = "starting"
STOPPED = "stopped"
FAILED = "failed"
# A lease renewed less than this long ago is not written again: a burst of calls would
# otherwise take the database's write lock once each just to move it by milliseconds.
LEASE_SLACK_S = 1.0


@dataclass(frozen=True)
class Ready:
    """A running session: where Ship answers, and whether an earlier session died under us."""

    session_id: str
    endpoint: str
    state_lost: bool = False


@dataclass(frozen=True)
class SessionRuntime:
    """What sessions need that is built once per process."""

    sessionmaker: async_sessionmaker[DbSession]
    driver: Driver
    ship: ShipClient
    profiles: ProfileCatalog
    locks: SandboxLocks
    instance_id: str
    ship_env: dict[str, str]
    metrics: Metrics
    orphan_grace_s: float | None = None  # see ShipSettings.orphan_grace_seconds
    recent: RecentSandboxes = field(default_factory=RecentSandboxes)  # port relays' memory


class SessionService:
    def __init__(self, runtime: SessionRuntime, clock: Clock) -> None:
        self._rt = runtime
        self._clock = clock

    @asynccontextmanager
    async def _unit(self) -> AsyncIterator[DbSession]:
        async with self._rt.sessionmaker() as db, db.begin():
            yield db

    def hold(self, sandbox_id: str) -> AbstractAsyncContextManager[None]:
        """The per-sandbox lock, for rules that must not race a start or a stop."""
        return self._rt.locks.hold(sandbox_id)

    async def ensure_running(self, sandbox_id: str, kernel: bool = False) -> Ready:
        """Return a ready session for the sandbox, starting one if needed; one start at a time.

        `kernel`: the caller runs Python, so a session started now boots its kernel at once
        (while Ship itself starts) instead of at the first execution.
        """
        async with self._rt.locks.hold(sandbox_id):
            ready, lost = await self._current(sandbox_id)
            if ready is not None:
                bind_contextvars(session_id=ready.session_id)
                return ready
            session_id, spec = await self._begin(sandbox_id, kernel)
            bind_contextvars(session_id=session_id)
            endpoint = await self._start(session_id, spec)
            return Ready(session_id=session_id, endpoint=endpoint, state_lost=lost)

    async def touch_running(self, sandbox_id: str) -> Ready | None:
        """The running session, its idle lease renewed; never starts one (None: stopped)."""
        async with self._rt.locks.hold(sandbox_id):
            ready, _ = await self._current(sandbox_id)
            return ready

    async def running_endpoint(self, sandbox_id: str) -> str | None:
        """Ship's endpoint if the sandbox has a running session; never starts one."""
        async with self._rt.sessionmaker() as db:
            sandbox = await db.get(Sandbox, sandbox_id)
            session = await _session(db, sandbox.current_session_id if sandbox else None)
        if session is None or session.observed_state != RUNNING:
            return None
        return session.endpoint

    async def _current(self, sandbox_id: str) -> tuple[Ready | None, bool]:
        """The live current session (renewing the idle lease), or whether a dead one was found."""
        async with self._unit() as db:
            sandbox, session = await _locked_with_session(db, sandbox_id)
            if session is None or session.observed_state != RUNNING or not session.endpoint:
                return None, False
            state = await self._rt.driver.inspect(session.driver_ref or "")
            if state == InstanceState.RUNNING:
                self._touch(sandbox)
                return Ready(session.id, session.endpoint), False
            log.warning("session %s of %s is %s; starting a new one", session.id, sandbox_id, state)
            await self._discard(db, sandbox, session, drain_logs=False)
            return None, True

    async def _begin(self, sandbox_id: str, kernel: bool) -> tuple[str, SessionSpec]:
        async with self._unit() as db:
            sandbox = await _locked_sandbox(db, sandbox_id)
            cargo = await db.get(Cargo, sandbox.cargo_id) if sandbox.cargo_id else None
            if cargo is None:
                raise NotFoundError(f"Cargo of sandbox {sandbox_id} no longer exists")
            session = self._new_session(sandbox)
            db.add(session)
            sandbox.current_session_id = session.id
            return session.id, self._spec(sandbox, session, cargo, kernel)

    async def _start(self, session_id: str, spec: SessionSpec) -> str:
        metrics, driver = self._rt.metrics, self._rt.metrics.driver
        started = time.monotonic()
        try:
            instance = await self._rt.driver.start(spec)
        except DriverError as exc:
            metrics.session_start_failures.labels(driver).inc()
            log.warning("session %s failed to start: %s", session_id, exc)
            await self._mark(session_id, FAILED)
            raise SessionNotReadyError(
                f"Runtime failed to become ready: {exc}",
                {"sandbox_id": spec.labels.sandbox_id, "retry_after_ms": 1000},
            ) from exc
        async with self._unit() as db:
            session = await db.get(Session, session_id)
            sandbox = await db.get(Sandbox, spec.labels.sandbox_id)
            if session is None or sandbox is None:
                await self._rt.driver.stop(instance.ref)
                raise NotFoundError(f"Sandbox not found: {spec.labels.sandbox_id}")
            metrics.session_starts.labels(driver).inc()
            metrics.session_start_latency.labels(driver).observe(time.monotonic() - started)
            session.driver_ref = instance.ref
            session.endpoint = instance.endpoint
            session.observed_state = RUNNING
            session.last_observed_at = self._clock()
            self._touch(sandbox)
        return instance.endpoint

    def traffic(self, session: Session) -> Traffic | None:
        """The network traffic of a running session, None without a network."""
        return self._rt.driver.traffic(session.driver_ref) if session.driver_ref else None

    async def stop(self, sandbox_id: str) -> None:
        """End every session of the sandbox; files stay in the cargo."""
        async with self._rt.locks.hold(sandbox_id), self._unit() as db:
            sandbox = await _locked_sandbox(db, sandbox_id, include_deleted=True)
            await self._discard_all(db, sandbox)

    async def reclaim_idle(self, sandbox_id: str, now: datetime) -> bool:
        """Idle GC: end the compute of a sandbox whose idle lease passed; files stay."""
        async with self._rt.locks.hold(sandbox_id), self._unit() as db:
            sandbox = await db.get(Sandbox, sandbox_id, with_for_update=True)
            if sandbox is None or sandbox.deleted_at is not None:
                return False
            if sandbox.idle_expires_at is None or sandbox.idle_expires_at >= now:
                return False
            if await self._busy(db, sandbox):
                self._touch(sandbox)
                return False
            await self._discard_all(db, sandbox)
            return True

    async def _busy(self, db: DbSession, sandbox: Sandbox) -> bool:
        """A running exec, background process or open terminal is activity, not idleness."""
        session = await _session(db, sandbox.current_session_id)
        if session is None or not session.endpoint or session.observed_state != RUNNING:
            return False
        try:
            activity = await self._rt.ship.activity(session.endpoint)
        except ShipCallError:
            return False
        return activity.busy

    async def expire(self, sandbox_id: str, now: datetime) -> bool:
        """Expired GC: retire the sandbox if, under the lock, it is still past its TTL."""
        return await self._retire(sandbox_id, now, only_if_expired=True)

    async def delete(self, sandbox_id: str, now: datetime) -> None:
        """End compute, soft-delete, and delete the managed cargo (external cargos stay)."""
        await self._retire(sandbox_id, now, only_if_expired=False)

    async def _retire(self, sandbox_id: str, now: datetime, only_if_expired: bool) -> bool:
        async with self._rt.locks.hold(sandbox_id), self._unit() as db:
            sandbox = await db.get(Sandbox, sandbox_id, with_for_update=True)
            if sandbox is None or sandbox.deleted_at is not None:
                return False
            expired = sandbox.expires_at is not None and sandbox.expires_at < now
            if only_if_expired and not expired:
                return False
            await self._discard_all(db, sandbox)
            sandbox.deleted_at = now
            await self._delete_managed_cargo(db, sandbox)
            return True

    async def _delete_managed_cargo(self, db: DbSession, sandbox: Sandbox) -> None:
        cargo = await db.get(Cargo, sandbox.cargo_id) if sandbox.cargo_id else None
        if cargo is None or not cargo.managed or cargo.managed_by_sandbox_id != sandbox.id:
            return
        sandbox.cargo_id = None
        await db.flush()
        await self._rt.driver.delete_cargo(cargo.driver_ref)
        await db.delete(cargo)

    async def _discard_all(self, db: DbSession, sandbox: Sandbox) -> None:
        rows = await db.scalars(select(Session).where(Session.sandbox_id == sandbox.id))
        for session in rows:
            await self._discard(db, sandbox, session)
        sandbox.current_session_id = None
        sandbox.idle_expires_at = None

    async def _discard(
        self, db: DbSession, sandbox: Sandbox, session: Session, drain_logs: bool = True
    ) -> None:
        self._rt.recent.forget(sandbox.id)
        if drain_logs and session.endpoint and session.observed_state == RUNNING:
            # Short: a hung Ship must not hold up its own stop for long.
            await relay(self._rt.ship, session.endpoint, sandbox.id, session.id, timeout=2.0)
        if session.driver_ref:
            await self._rt.driver.stop(session.driver_ref)
        if session.endpoint:
            await self._rt.ship.forget(session.endpoint)
        if sandbox.current_session_id == session.id:
            sandbox.current_session_id = None
        await db.delete(session)

    async def _mark(self, session_id: str, state: str) -> None:
        async with self._unit() as db:
            session = await db.get(Session, session_id)
            if session is not None:
                session.observed_state = state

    def _touch(self, sandbox: Sandbox) -> None:
        now = self._clock()
        profile = self._rt.profiles.get(sandbox.profile_id)
        renewed = now + timedelta(seconds=profile.idle_timeout)
        lease = sandbox.idle_expires_at
        if lease is not None and lease >= renewed - timedelta(seconds=LEASE_SLACK_S):
            return
        sandbox.last_active_at = now
        sandbox.idle_expires_at = renewed

    def _new_session(self, sandbox: Sandbox) -> Session:
        return Session(
            id=new_id("sess"),
            sandbox_id=sandbox.id,
            profile_id=sandbox.profile_id,
            desired_state=RUNNING,
            observed_state=STARTING,
            created_at=self._clock(),
        )

    def _spec(self, sandbox: Sandbox, session: Session, cargo: Cargo, kernel: bool) -> SessionSpec:
        profile = self._rt.profiles.get(sandbox.profile_id)
        labels = Labels(
            owner=sandbox.owner,
            sandbox_id=sandbox.id,
            session_id=session.id,
            cargo_id=cargo.id,
            profile=profile.id,
            instance_id=self._rt.instance_id,
        )
        env = {**profile.env, **(sandbox.user_env or {}), **self._rt.ship_env}
        if self._rt.orphan_grace_s is not None:
            # Past its idle timeout a live Bay would have ended it anyway; the grace is the
            # time a restarted Bay has to find it again.
            orphan_after = max(profile.idle_timeout, 0) + self._rt.orphan_grace_s
            env["SHIP_ORPHAN_AFTER_S"] = f"{orphan_after:g}"
        if (kernel or sandbox.is_warm_pool) and "python" in profile.capabilities:
            env["SHIP_PRESTART_KERNEL"] = "1"
        if profile.preload:
            env["SHIP_PRELOAD"] = ",".join(profile.preload)
        return SessionSpec(
            labels=labels,
            cargo_ref=cargo.driver_ref,
            limits=self._rt.profiles.limits(profile),
            env=env,
            egress=networks.egress(sandbox, profile),
            image=profile.image,
            runtime=profile.runtime,
        )


async def _locked_sandbox(db: DbSession, sandbox_id: str, include_deleted: bool = False) -> Sandbox:
    query = select(Sandbox).where(Sandbox.id == sandbox_id).with_for_update()
    sandbox = await db.scalar(query)
    if sandbox is None or (sandbox.deleted_at is not None and not include_deleted):
        raise NotFoundError(f"Sandbox not found: {sandbox_id}")
    return sandbox


_WITH_SESSION = (
    select(Sandbox, Session)
    .outerjoin(Session, Session.id == Sandbox.current_session_id)
    .where(Sandbox.id == bindparam("id"))
    .with_for_update(of=Sandbox)
)


async def _locked_with_session(db: DbSession, sandbox_id: str) -> tuple[Sandbox, Session | None]:
    """The sandbox (locked) and its current session in one query: every call asks for both."""
    found = (await db.execute(_WITH_SESSION, {"id": sandbox_id})).first()
    if found is None or found[0].deleted_at is not None:
        raise NotFoundError(f"Sandbox not found: {sandbox_id}")
    return found[0], found[1]


async def _session(db: DbSession, session_id: str | None) -> Session | None:
    return await db.get(Session, session_id) if session_id else None


class Reconciler:
    """At startup: re-attach to live sessions, reap dead ones, and stop instances nobody owns."""

    def __init__(self, runtime: SessionRuntime) -> None:
        self._rt = runtime

    async def run(self) -> tuple[int, int]:
        """Return (re-attached, reaped)."""
        instances = await self._rt.driver.list_instances()
        live = {i.ref for i in instances if i.state == InstanceState.RUNNING}
        async with self._rt.sessionmaker() as db, db.begin():
            rows = {s.id: s for s in await db.scalars(select(Session))}
            reaped = await self._reap_instances(instances, rows)
            for session in rows.values():
                if session.driver_ref not in live:
                    reaped += await self._reap_row(db, session)
        attached = sum(1 for s in rows.values() if s.driver_ref in live)
        return attached, reaped

    async def _reap_instances(self, instances: list[InstanceInfo], rows: dict[str, Session]) -> int:
        reaped = 0
        for instance in instances:
            row = rows.get(instance.labels.session_id)
            owned = row is not None and row.driver_ref == instance.ref
            if instance.state != InstanceState.RUNNING or not owned:
                await self._rt.driver.stop(instance.ref)
                reaped += 1
        return reaped

    async def _reap_row(self, db: DbSession, session: Session) -> int:
        sandbox = await db.get(Sandbox, session.sandbox_id)
        if sandbox is not None and sandbox.current_session_id == session.id:
            sandbox.current_session_id = None
        await db.delete(session)
        return 1
