"""The warm pool: ready sandboxes per profile that a create without a cargo claims at once.

Members are ordinary sandbox rows owned by `warm-pool` with `is_warm_pool` set, each with a
managed cargo and a running session whose kernel is already started. A claim is one
conditional UPDATE of a row it locked skipping those other claimers hold (PostgreSQL), so
replicas on one database never hand out one member twice; the refill runs under a database
lease, renewed while it runs, on a timer and right after each claim.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession as DbSession
from structlog.contextvars import bind_contextvars

from bay.config import ProfileSettings, WarmPoolSettings
from bay.db.models import Cargo, Sandbox, Session
from bay.drivers.base import DriverError, InstanceState
from bay.errors import BayError
from bay.services import leases
from bay.services.cargos import CargoService
from bay.services.clock import Clock
from bay.services.ids import new_id
from bay.services.sessions import RUNNING, SessionRuntime, SessionService
from bay.ship_client import ShipCallError
from shipyard_protocol.api import WarmPoolProfileStatus, WarmPoolStatus

log = logging.getLogger(__name__)

POOL_OWNER = "warm-pool"
WARMING, AVAILABLE, CLAIMED, RETIRING = "warming", "available", "claimed", "retiring"
CLAIM_ATTEMPTS = 5
LEASE = "warm-pool"
LEASE_S = 60

CargoFactory = Callable[[DbSession], CargoService]


@dataclass
class _Member:
    id: str
    profile_id: str
    state: str | None
    created_at: datetime
    rotate_at: datetime | None
    driver_ref: str | None
    running: bool


class WarmPool:
    """Built once per process; the counters are this replica's, the members are shared."""

    def __init__(
        self,
        runtime: SessionRuntime,
        sessions: SessionService,
        cargos: CargoFactory,
        settings: WarmPoolSettings,
        clock: Clock,
    ) -> None:
        self._rt = runtime
        self._sessions = sessions
        self._cargos = cargos
        self._settings = settings
        self._clock = clock
        self._wake = asyncio.Event()
        self._refilling = asyncio.Lock()
        self._claiming = asyncio.Lock()
        self._mine: set[str] = set()
        self._stopping = False
        self.hits = 0
        self.misses = 0

    def size(self, profile_id: str) -> int:
        if not self._settings.enabled or not self._rt.profiles.runs(profile_id):
            return 0
        return self._rt.profiles.get(profile_id).warm_pool_size

    async def claim(self, owner: str, profile_id: str, ttl: int | None) -> str | None:
        """Hand the oldest available member of the profile to `owner`: its id, or None (a miss).

        A claim is its own short transaction, committed before the create answers. Claims in
        this Bay take turns, so a burst never queues on SQLite's write lock (whose busy
        handler sleeps up to 100 ms at a time); the conditional UPDATE still settles races
        with other Bays on one database.
        """
        if self.size(profile_id) == 0:
            return None
        turn = self._rt.write_turn or contextlib.nullcontext()  # it writes: it takes turns too
        async with self._claiming, turn, self._rt.sessionmaker() as db, db.begin():
            claimed = await self._first_available(db, owner, profile_id, ttl)
        if claimed is None:
            self.misses += 1
            self._rt.metrics.warm_pool_misses.labels(profile_id).inc()
        else:
            self.hits += 1
            self._rt.metrics.warm_pool_hits.labels(profile_id).inc()
        self.wake()
        return claimed

    async def _first_available(
        self, db: DbSession, owner: str, profile_id: str, ttl: int | None
    ) -> str | None:
        for _ in range(CLAIM_ATTEMPTS):
            candidate = await db.scalar(
                select(Sandbox.id)
                .where(*_available(profile_id))
                .order_by(Sandbox.warm_ready_at, Sandbox.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if candidate is None:
                return None
            if await self._take(db, candidate, owner, profile_id, ttl):
                return candidate
        return None

    async def _take(
        self, db: DbSession, sandbox_id: str, owner: str, profile_id: str, ttl: int | None
    ) -> bool:
        """The conditional UPDATE: only one claimer can move a member out of `available`."""
        now = self._clock()
        idle = timedelta(seconds=self._rt.profiles.get(profile_id).idle_timeout)
        taken = await db.execute(
            update(Sandbox)
            .where(Sandbox.id == sandbox_id, *_available(profile_id))
            .values(
                owner=owner,
                is_warm_pool=False,
                warm_state=CLAIMED,
                warm_claimed_at=now,
                created_at=now,
                expires_at=now + timedelta(seconds=ttl) if ttl else None,
                last_active_at=now,
                idle_expires_at=now + idle,
            )
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            return False
        await db.execute(
            update(Cargo).where(Cargo.managed_by_sandbox_id == sandbox_id).values(owner=owner)
        )
        return True

    def wake(self) -> None:
        """Ask the background loop to refill now rather than at its next tick."""
        self._wake.set()

    @property
    def wake_requested(self) -> bool:
        return self._wake.is_set()

    def stop(self) -> None:
        """Make `loop` return once the refill under way (if any) is done."""
        self._stopping = True
        self.wake()

    async def loop(self) -> None:
        """Refill at start (checking every member's session), on each wake, and on a timer."""
        check_sessions = True
        while not self._stopping:
            self._wake.clear()
            try:
                await self.refill(check_sessions)
            except Exception:
                log.exception("warm pool refill failed")
            woken = await self._woken(self._settings.interval_seconds)
            check_sessions = not woken
            if woken:
                await self._quiet()

    async def _quiet(self) -> None:
        """Let a burst of claims pass: each claimer's first calls should not compete with the
        CPU-heavy starts of the refill. Waits for a pause in claims, ten pauses at most."""
        pause = self._settings.refill_delay_seconds
        for _ in range(10):
            self._wake.clear()
            if self._stopping or not await self._woken(pause):
                return

    async def _woken(self, seconds: float) -> bool:
        """Wait up to `seconds` for a wake; False when the time ran out first."""
        try:
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        except TimeoutError:
            return False
        return True

    async def refill(self, check_sessions: bool = True) -> None:
        """Retire dead, stale and surplus members, then warm new ones up to each depth."""
        rt = self._rt
        lease = leases.held(
            rt.sessionmaker, LEASE, rt.instance_id, self._clock(), self._clock, LEASE_S
        )
        async with self._refilling, lease as ours:
            if ours:
                live = await self._retire_unfit(await self._members(), check_sessions)
                await self._top_up(live)

    async def _members(self) -> list[_Member]:
        async with self._rt.sessionmaker() as db:
            rows = await db.execute(
                select(Sandbox, Session)
                .outerjoin(Session, Session.id == Sandbox.current_session_id)
                .where(Sandbox.is_warm_pool.is_(True), Sandbox.deleted_at.is_(None))
                .order_by(Sandbox.warm_ready_at, Sandbox.id)
            )
            return [_member(sandbox, session) for sandbox, session in rows.all()]

    async def _retire_unfit(self, members: list[_Member], check_sessions: bool) -> list[_Member]:
        now = self._clock()
        kept: list[_Member] = []
        for member in members:
            if self._stale(member, now) or (check_sessions and not await self._alive(member)):
                await self.retire(member.id, member.state)
            else:
                kept.append(member)
        surplus = _surplus(kept, self.size)
        for member in surplus:
            await self.retire(member.id, member.state)
        return [member for member in kept if member not in surplus]

    def _stale(self, member: _Member, now: datetime) -> bool:
        if member.profile_id not in self._rt.profiles.ids():
            return True
        if member.state == WARMING:
            grace = timedelta(seconds=self._settings.warming_grace_seconds)
            return member.created_at < now - grace
        return member.rotate_at is not None and member.rotate_at <= now

    async def _alive(self, member: _Member) -> bool:
        if member.state != AVAILABLE:
            return True
        if not member.running or member.driver_ref is None:
            return False
        try:
            return await self._rt.driver.inspect(member.driver_ref) == InstanceState.RUNNING
        except DriverError:
            return True  # the engine is unreachable: trust the database, as ensure_running does

    async def _top_up(self, live: list[_Member]) -> None:
        wanted: list[ProfileSettings] = []
        for profile_id in self._rt.profiles.ids():
            have = sum(1 for member in live if member.profile_id == profile_id)
            wanted += [self._rt.profiles.get(profile_id)] * max(self.size(profile_id) - have, 0)
        gate = asyncio.Semaphore(self._settings.refill_concurrency)

        async def warm(profile: ProfileSettings) -> None:
            async with gate:
                await self._warm_one(profile)

        outcomes = await asyncio.gather(*(warm(p) for p in wanted), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                log.error("warm pool: warming failed", exc_info=outcome)

    async def _warm_one(self, profile: ProfileSettings) -> None:
        """Make one member: cargo and row, a running session, then `available`."""
        sandbox_id = new_id("sandbox")
        bind_contextvars(sandbox_id=sandbox_id)  # this task warms this one member only
        try:
            await self._insert(sandbox_id, profile)
            self._mine.add(sandbox_id)
            ready = await self._sessions.ensure_running(sandbox_id)
            # Opens Bay's pooled connection and Ship's HTTP path before a claim needs them.
            await self._rt.ship.health(ready.endpoint)
        except (BayError, DriverError, ShipCallError) as exc:
            log.warning("warm pool: %s for %s did not start: %s", sandbox_id, profile.id, exc)
            await self.retire(sandbox_id, WARMING)
            return
        now = self._clock()
        async with self._rt.sessionmaker() as db, db.begin():
            await db.execute(
                update(Sandbox)
                .where(Sandbox.id == sandbox_id, Sandbox.warm_state == WARMING)
                .values(
                    warm_state=AVAILABLE,
                    warm_ready_at=now,
                    warm_rotate_at=now + timedelta(seconds=profile.warm_rotate_ttl),
                )
            )

    async def _insert(self, sandbox_id: str, profile: ProfileSettings) -> None:
        async with self._rt.sessionmaker() as db, db.begin():
            cargo = await self._cargos(db).create(POOL_OWNER, managed_by=sandbox_id)
            db.add(
                Sandbox(
                    id=sandbox_id,
                    owner=POOL_OWNER,
                    profile_id=profile.id,
                    cargo_id=cargo.id,
                    created_at=self._clock(),
                    is_warm_pool=True,
                    warm_state=WARMING,
                    warm_source_profile_id=profile.id,
                )
            )

    async def retire(self, sandbox_id: str, state: str | None) -> bool:
        """Delete a member still in `state`; a claim that got there first wins."""
        async with self._rt.sessionmaker() as db, db.begin():
            taken = await db.execute(
                update(Sandbox)
                .where(
                    Sandbox.id == sandbox_id,
                    Sandbox.is_warm_pool.is_(True),
                    Sandbox.warm_state == state,
                )
                .values(warm_state=RETIRING)
            )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            return False
        self._mine.discard(sandbox_id)
        try:
            await self._sessions.delete(sandbox_id, self._clock())
        except (BayError, DriverError):
            log.exception("warm pool: could not delete %s", sandbox_id)
        return True

    async def drain(self) -> None:
        """At shutdown: delete the members this Bay runs (another replica keeps its own)."""
        ours = set(self._mine)
        with contextlib.suppress(DriverError):
            instances = await self._rt.driver.list_instances()
            ours |= {i.labels.sandbox_id for i in instances if i.labels.owner == POOL_OWNER}
        for member in await self._members():
            if member.id in ours:
                await self.retire(member.id, member.state)

    async def status(self) -> WarmPoolStatus:
        async with self._rt.sessionmaker() as db:
            rows = await db.execute(
                select(Sandbox.profile_id, Sandbox.warm_state, func.count())
                .where(Sandbox.is_warm_pool.is_(True), Sandbox.deleted_at.is_(None))
                .group_by(Sandbox.profile_id, Sandbox.warm_state)
            )
            counts = {(profile, state): count for profile, state, count in rows.all()}
        profiles = {
            profile_id: WarmPoolProfileStatus(
                size=self.size(profile_id),
                available=counts.get((profile_id, AVAILABLE), 0),
                warming=counts.get((profile_id, WARMING), 0),
            )
            for profile_id in self._rt.profiles.ids()
        }
        return WarmPoolStatus(
            enabled=self._settings.enabled, hits=self.hits, misses=self.misses, profiles=profiles
        )


def _available(profile_id: str) -> tuple[ColumnElement[bool], ...]:
    return (
        Sandbox.is_warm_pool.is_(True),
        Sandbox.warm_state == AVAILABLE,
        Sandbox.profile_id == profile_id,
        Sandbox.deleted_at.is_(None),
    )


def _member(sandbox: Sandbox, session: Session | None) -> _Member:
    return _Member(
        id=sandbox.id,
        profile_id=sandbox.profile_id,
        state=sandbox.warm_state,
        created_at=sandbox.created_at,
        rotate_at=sandbox.warm_rotate_at,
        driver_ref=session.driver_ref if session else None,
        running=session is not None and session.observed_state == RUNNING,
    )


def _surplus(members: list[_Member], size: Callable[[str], int]) -> list[_Member]:
    """Available members beyond each profile's depth, oldest first (after a size cut)."""
    extra: list[_Member] = []
    by_profile: dict[str, list[_Member]] = {}
    for member in members:
        by_profile.setdefault(member.profile_id, []).append(member)
    for profile_id, group in by_profile.items():
        available = [member for member in group if member.state == AVAILABLE]
        cut = len(group) - size(profile_id)
        extra += available[: max(cut, 0)]
    return extra
