"""Sessions: `ensure_running` turns a sandbox into a ready Ship, and nothing else does."""

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession as DbSession
from sqlalchemy.ext.asyncio import async_sessionmaker
from structlog.contextvars import bind_contextvars

from bay.db.models import Cargo, Sandbox, Session
from bay.drivers.base import (
    PRESTART_BROWSER,
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
from bay.services import leases, networks
from bay.services.capabilities import Usable, expired_error, past_ttl, sandbox_memory
from bay.services.clock import Clock
from bay.services.ids import new_id
from bay.services.locks import SandboxLocks
from bay.services.memory import Memory
from bay.services.profiles import ProfileCatalog, environment
from bay.services.recent_sandboxes import Running, relay_memory
from bay.services.ship_logs import relay
from bay.ship_client import ShipCallError, ShipClient
from bay.ship_session import SessionShip

log = logging.getLogger(__name__)

RUNNING = "running"
STARTING = "starting"
FAILED = "failed"
# A lease renewed less than this long ago is not written again: a burst of calls would
# otherwise take the database's write lock once each just to move it by milliseconds.
LEASE_SLACK_S = 1.0
# A start another replica has had under way this long died with it (lease or none); the
# drivers give up on a start well before.
START_GRACE_S = 180.0
START_POLL_S = 0.1
# How long a stop waits for the browser to close (agent-browser's close, then Ship's kill).
BROWSER_CLOSE_S = 8.0


@dataclass(frozen=True)
class Ready:
    """A running session: where Ship answers, and whether an earlier session died under us."""

    session_id: str
    ship: SessionShip
    state_lost: bool = False

    @property
    def endpoint(self) -> str:
        return self.ship.endpoint


# Work a caller adds to the transaction that finds the session ready (an execution's history
# row), so a warm call writes once before it reaches Ship.
Then = Callable[[DbSession, Ready], Awaitable[None]]


@dataclass(frozen=True)
class _Begun:
    """A session row written `starting` under the row lock: this caller starts it."""

    session_id: str
    spec: SessionSpec
    lost: bool


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
    # SQLite lets one writer in at a time: writers in this process take turns (see get_db).
    write_turn: asyncio.Lock | None = None
    relays: Memory[Running] = field(default_factory=relay_memory)  # port relays' memory
    known: Memory[Usable] = field(default_factory=sandbox_memory)  # capability checks'
    run_id: str = field(default_factory=lambda: new_id("run"))  # this process's run

    @property
    def holder(self) -> str:
        """Who holds this replica's liveness lease: the instance, in this run of it."""
        return f"{self.instance_id}/{self.run_id}"


class SessionService:
    def __init__(self, runtime: SessionRuntime, clock: Clock) -> None:
        self._rt = runtime
        self._clock = clock

    @asynccontextmanager
    async def _unit(self, writing: bool = False) -> AsyncIterator[DbSession]:
        turn = self._rt.write_turn if writing else None
        async with turn or nullcontext(), self._rt.sessionmaker() as db, db.begin():
            yield db

    @property
    def known(self) -> Memory[Usable]:
        """Sandboxes the capability check found usable a moment ago (forgotten on retire)."""
        return self._rt.known

    def hold(self, sandbox_id: str) -> AbstractAsyncContextManager[None]:
        """The per-sandbox lock, for rules that must not race a start or a stop."""
        return self._rt.locks.hold(sandbox_id)

    async def ensure_running(
        self, sandbox_id: str, kernel: bool = False, then: Then | None = None
    ) -> Ready:
        """Return a ready session for the sandbox, starting one if needed; one start at a time.

        One start per sandbox across replicas too: the decision to start is taken, and the
        session row that says so written, under the sandbox's row lock; a replica that finds
        another's start under way waits for it. `kernel`: the caller runs Python, so a session
        started now boots its kernel at once (while Ship itself starts) instead of at the
        first execution. `then` runs in the transaction that finds the session running (a
        warm call's only one before Ship), or in one of its own after a start.

        A running session is trusted without asking the driver, until a call finds its Ship
        unreachable (`ShipClient.suspect`): then the driver says whether it still runs.
        """
        async with self._rt.locks.hold(sandbox_id):
            while True:
                step = await self._current_or_begin(sandbox_id, kernel, then)
                if isinstance(step, Ready):
                    bind_contextvars(session_id=step.session_id)
                    return step
                if isinstance(step, _Begun):
                    bind_contextvars(session_id=step.session_id)
                    ship = await self._start(step.session_id, step.spec)
                    ready = Ready(step.session_id, ship, state_lost=step.lost)
                    if then is not None:
                        async with self._unit(writing=True) as db:
                            await then(db, ready)
                    return ready
                await asyncio.sleep(START_POLL_S)  # another replica is starting it

    async def touch_running(self, sandbox_id: str) -> Ready | None:
        """The running session, its idle lease renewed; never starts one (None: stopped)."""
        async with self._rt.locks.hold(sandbox_id), self._unit() as db:
            sandbox, session = await _locked_with_session(db, sandbox_id)
            ready, _ = await self._live(db, sandbox, session)
            return ready

    async def running_ship(self, sandbox_id: str) -> SessionShip | None:
        """The running session's Ship; never starts one."""
        endpoint = await self.running_endpoint(sandbox_id)
        return SessionShip(self._rt.ship, endpoint) if endpoint is not None else None

    async def running_endpoint(self, sandbox_id: str) -> str | None:
        """Ship's endpoint if the sandbox has a running session; never starts one. 404 for a
        sandbox deleted since its capability check remembered it (another replica's delete)."""
        async with self._rt.sessionmaker() as db:
            sandbox = await db.get(Sandbox, sandbox_id)
            if sandbox is None or sandbox.deleted_at is not None:
                raise NotFoundError(f"Sandbox not found: {sandbox_id}")
            session = await _session(db, sandbox.current_session_id)
        if session is None or session.observed_state != RUNNING:
            return None
        return session.endpoint

    async def _current_or_begin(
        self, sandbox_id: str, kernel: bool, then: Then | None
    ) -> "Ready | _Begun | None":
        """Under the row lock: the live session, a new one to start, or None while another
        replica starts one."""
        async with self._unit(writing=then is not None) as db:
            sandbox, session = await _locked_with_session(db, sandbox_id)
            if past_ttl(sandbox.expires_at, self._clock()):
                raise expired_error(sandbox.id, sandbox.expires_at)  # the check may recall it
            ready, lost = await self._live(db, sandbox, session)
            if ready is not None:
                if then is not None:
                    await then(db, ready)
                return ready
            if session is not None and not lost:
                if await self._starting_elsewhere(db, session):
                    return None
                await self._discard(db, sandbox, session)  # failed, or its starter is gone
            cargo = await db.get(Cargo, sandbox.cargo_id) if sandbox.cargo_id else None
            if cargo is None:
                raise NotFoundError(f"Cargo of sandbox {sandbox_id} no longer exists")
            new = self._new_session(sandbox)
            db.add(new)
            sandbox.current_session_id = new.id
            return _Begun(new.id, self._spec(sandbox, new, cargo, kernel), lost)

    async def _live(
        self, db: DbSession, sandbox: Sandbox, session: Session | None
    ) -> tuple[Ready | None, bool]:
        """The running session (renewing the idle lease), or whether a dead one was ended."""
        if session is None or session.observed_state != RUNNING or not session.endpoint:
            return None, False
        ship = self._rt.ship
        # Either runtime: a browser sidecar that died leaves Ship's own endpoint answering.
        endpoints = _endpoints(session)
        if any(ship.suspect(endpoint) for endpoint in endpoints):
            state = await self._rt.driver.inspect(session.driver_ref or "")
            if state != InstanceState.RUNNING:
                log.warning(
                    "session %s of %s is %s; starting a new one", session.id, sandbox.id, state
                )
                await self._discard(db, sandbox, session, drain_logs=False)
                return None, True
            for endpoint in endpoints:
                ship.cleared(endpoint)
        self._touch(sandbox)
        found = SessionShip(ship, session.endpoint, session.browser_endpoint)
        return Ready(session.id, found), False

    async def _starting_elsewhere(self, db: DbSession, session: Session) -> bool:
        """A start under way on a live replica. This replica's own never is: its starts run
        under the per-sandbox lock held now, so one found here died with an earlier run."""
        if session.observed_state != STARTING or session.instance_id == self._rt.instance_id:
            return False
        now = self._clock()
        if session.created_at < now - timedelta(seconds=START_GRACE_S):
            return False
        return session.instance_id in await leases.live_replicas(db, now)

    async def _start(self, session_id: str, spec: SessionSpec) -> SessionShip:
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
            session.browser_endpoint = instance.browser_endpoint
            session.observed_state = RUNNING
            session.last_observed_at = self._clock()
            self._touch(sandbox)
        return SessionShip(self._rt.ship, instance.endpoint, instance.browser_endpoint)

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
        for endpoint in _endpoints(session):  # a browser sidecar's commands are activity too
            try:
                if (await self._rt.ship.activity(endpoint)).busy:
                    return True
            except ShipCallError:
                continue
        return False

    async def expire(self, sandbox_id: str, now: datetime) -> bool:
        """Expired GC: retire the sandbox if, under the lock, it is still past its TTL."""
        return await self._retire(sandbox_id, now, only_if_expired=True)

    async def delete(self, sandbox_id: str, now: datetime) -> None:
        """End compute, soft-delete, and delete the managed cargo (external cargos stay)."""
        await self._retire(sandbox_id, now, only_if_expired=False)

    async def _retire(self, sandbox_id: str, now: datetime, only_if_expired: bool) -> bool:
        try:
            async with self._rt.locks.hold(sandbox_id), self._unit() as db:
                sandbox = await db.get(Sandbox, sandbox_id, with_for_update=True)
                if sandbox is None or sandbox.deleted_at is not None:
                    return False
                if only_if_expired and not past_ttl(sandbox.expires_at, now):
                    return False
                await self._discard_all(db, sandbox)
                sandbox.deleted_at = now
                await self._delete_managed_cargo(db, sandbox)
                return True
        finally:
            self._rt.known.forget(sandbox_id)  # a check that read it before is refused by the lock

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
        self._rt.relays.forget(sandbox.id)
        if drain_logs and session.endpoint and session.observed_state == RUNNING:
            # Short: a hung Ship must not hold up its own stop for long.
            await relay(self._rt.ship, session.endpoint, sandbox.id, session.id, timeout=2.0)
        if drain_logs and session.browser_endpoint and session.observed_state == RUNNING:
            await self._close_browser(session.browser_endpoint)
        if session.driver_ref:
            await self._rt.driver.stop(session.driver_ref)
        if session.endpoint:
            await self._rt.ship.forget(session.endpoint)
        if session.browser_endpoint and session.browser_endpoint != session.endpoint:
            await self._rt.ship.forget(session.browser_endpoint)
        if sandbox.current_session_id == session.id:
            sandbox.current_session_id = None
        await db.delete(session)

    async def _close_browser(self, endpoint: str) -> None:
        """Drivers end a session with SIGKILL: first let Chromium write the cookies it still
        holds in memory to the profile on the cargo, so they survive the stop."""
        try:
            await self._rt.ship.browser_close(endpoint, timeout=BROWSER_CLOSE_S)
        except ShipCallError as exc:
            log.info("the browser of %s was not closed before its stop: %s", endpoint, exc)

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
            instance_id=self._rt.instance_id,
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
        env = {**environment(profile), **(sandbox.user_env or {}), **self._rt.ship_env}
        if self._rt.orphan_grace_s is not None:
            # Past its idle timeout a live Bay would have ended it anyway; the grace is the
            # time a restarted Bay has to find it again.
            orphan_after = max(profile.idle_timeout, 0) + self._rt.orphan_grace_s
            env["SHIP_ORPHAN_AFTER_S"] = f"{orphan_after:g}"
        if (kernel or sandbox.is_warm_pool) and "python" in self._rt.profiles.capabilities(
            profile.id
        ):
            env["SHIP_PRESTART_KERNEL"] = "1"
        if profile.preload:
            env["SHIP_PRELOAD"] = ",".join(profile.preload)
        env["SHIP_SANDBOX_ID"] = sandbox.id  # names the sandbox's browser session
        browser = self._rt.profiles.browser(profile)
        if sandbox.is_warm_pool and browser is not None:
            env[PRESTART_BROWSER] = "1"  # a claim finds Chromium running
        return SessionSpec(
            labels=labels,
            cargo_ref=cargo.driver_ref,
            limits=self._rt.profiles.limits(profile),
            env=env,
            egress=networks.egress(sandbox, profile),
            image=profile.image,
            runtime=profile.runtime,
            browser=browser,
        )


def _endpoints(session: Session) -> set[str]:
    """Where the session's Ships answer: its own, and a browser sidecar's when it has one."""
    return {endpoint for endpoint in (session.endpoint, session.browser_endpoint) if endpoint}


# Built once: every call that needs a session runs it.
_LOCKED_SANDBOX = select(Sandbox).where(Sandbox.id == bindparam("id")).with_for_update()


async def _locked_sandbox(db: DbSession, sandbox_id: str, include_deleted: bool = False) -> Sandbox:
    sandbox = await db.scalar(_LOCKED_SANDBOX, {"id": sandbox_id})
    if sandbox is None or (sandbox.deleted_at is not None and not include_deleted):
        raise NotFoundError(f"Sandbox not found: {sandbox_id}")
    return sandbox


async def _locked_with_session(db: DbSession, sandbox_id: str) -> tuple[Sandbox, Session | None]:
    """The sandbox (locked), then its current session in a statement of its own.

    Not one join: on PostgreSQL a `FOR UPDATE` that waited for another start re-reads the
    locked sandbox row but keeps the session side of the join from before the wait, so it
    would miss the session that start just wrote and begin a second one.
    """
    sandbox = await _locked_sandbox(db, sandbox_id)
    return sandbox, await _session(db, sandbox.current_session_id)


async def _session(db: DbSession, session_id: str | None) -> Session | None:
    return await db.get(Session, session_id) if session_id else None


class Reconciler:
    """Re-attach to live sessions, reap dead ones, and stop instances nobody owns.

    A replica reaps only what is provably dead: its own sessions (at its start, none of them
    is still starting) and those of replicas whose lease ran out, once the driver says they no
    longer run; a running one of a gone replica is adopted instead. Each row is settled under
    its sandbox's locks, as `ensure_running` changes it.
    """

    def __init__(self, runtime: SessionRuntime) -> None:
        self._rt = runtime

    async def run(self, now: datetime) -> tuple[int, int]:
        """At startup: return (re-attached, reaped)."""
        me = self._rt.instance_id
        instances = await self._rt.driver.list_instances()
        live = {i.ref for i in instances if i.state == InstanceState.RUNNING}
        rows = await self._rows()
        reaped = await self._reap_instances(instances, {s.id: s for s in rows})

        async def dead(session: Session) -> bool:
            return session.instance_id == me and session.driver_ref not in live

        for row in rows:
            if row.instance_id == me:
                reaped += await self._settle(row, dead)
        reaped += await self.gone_replicas(now, rows)
        attached = sum(1 for s in rows if s.driver_ref in live)
        return attached, reaped

    async def gone_replicas(self, now: datetime, rows: list[Session] | None = None) -> int:
        """Reap the dead sessions of replicas whose lease ran out (at startup and by GC)."""
        async with self._rt.sessionmaker() as db:
            alive = await leases.live_replicas(db, now) | {self._rt.instance_id}

        async def dead(session: Session) -> bool:
            if session.instance_id in alive:
                return False
            if session.driver_ref and await self._running(session.driver_ref):
                session.instance_id = self._rt.instance_id  # adopted: it still runs
                return False
            return True

        reaped = 0
        for row in rows if rows is not None else await self._rows():
            if row.instance_id not in alive:
                reaped += await self._settle(row, dead)
        return reaped

    async def _rows(self) -> list[Session]:
        async with self._rt.sessionmaker() as db:
            return list(await db.scalars(select(Session)))

    async def _settle(self, row: Session, dead: Callable[[Session], Awaitable[bool]]) -> int:
        """Reap the session if, read again under its sandbox's locks, it is still dead."""
        async with self._rt.locks.hold(row.sandbox_id), self._rt.sessionmaker() as db, db.begin():
            sandbox = await db.get(Sandbox, row.sandbox_id, with_for_update=True)
            session = await db.get(Session, row.id, populate_existing=True)
            if session is None or not await dead(session):
                return 0
            if sandbox is not None and sandbox.current_session_id == session.id:
                sandbox.current_session_id = None
            if session.driver_ref:
                await self._rt.driver.stop(session.driver_ref)
            await db.delete(session)
            return 1

    async def _running(self, ref: str) -> bool:
        try:
            return await self._rt.driver.inspect(ref) == InstanceState.RUNNING
        except DriverError:
            return True  # the engine is unreachable: nothing is proven dead

    async def _reap_instances(self, instances: list[InstanceInfo], rows: dict[str, Session]) -> int:
        reaped = 0
        for instance in instances:
            row = rows.get(instance.labels.session_id)
            owned = row is not None and row.driver_ref == instance.ref
            if instance.state != InstanceState.RUNNING or not owned:
                await self._rt.driver.stop(instance.ref)
                reaped += 1
        return reaped
