"""Sandboxes: create, list, read, stop and delete, always scoped to the caller's owner."""

from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession as DbSession
from structlog.contextvars import bind_contextvars

from bay.config import ProfileSettings
from bay.db.models import Sandbox, Session
from bay.errors import (
    InvalidRequestError,
    NotFoundError,
    SandboxTTLInfiniteError,
)
from bay.services import networks
from bay.services.capabilities import Usable, expired_error, past_ttl
from bay.services.cargos import CargoService
from bay.services.clock import Clock
from bay.services.ids import new_id
from bay.services.profiles import ProfileCatalog
from bay.services.sessions import RUNNING, STARTING, SessionService
from bay.services.warm_pool import WarmPool
from bay.ship_client import ShipCallError, ShipClient
from shipyard_protocol.api import (
    ContainerRuntime,
    SandboxCreate,
    SandboxList,
    SandboxNetwork,
    SandboxStatus,
)
from shipyard_protocol.api import Sandbox as SandboxOut

# Built once: every call on a sandbox starts with this lookup, and building the statement
# cost more than running it.
_LIVE_SANDBOX = select(Sandbox).where(
    Sandbox.id == bindparam("id"),
    Sandbox.owner == bindparam("owner"),
    Sandbox.deleted_at.is_(None),
    Sandbox.is_warm_pool.is_(False),
)


class SandboxService:
    def __init__(
        self,
        db: DbSession,
        cargos: CargoService,
        sessions: SessionService,
        profiles: ProfileCatalog,
        ship: ShipClient,
        clock: Clock,
        pool: WarmPool | None = None,
    ) -> None:
        self._db = db
        self._cargos = cargos
        self._sessions = sessions
        self._profiles = profiles
        self._ship = ship
        self._clock = clock
        self._pool = pool

    async def create(self, owner: str, request: SandboxCreate) -> SandboxOut:
        """Claim a warm sandbox when no cargo is named and the pool has one, else make one."""
        profile = self._profiles.runnable(request.profile)
        ttl = request.ttl if request.ttl and request.ttl > 0 else None
        network = networks.chosen(profile, request.network)
        # A warm sandbox runs its profile's policy and env: only a create that keeps both may
        # claim one.
        warm = request.cargo_id is None and network is None and not request.env
        if warm and self._pool is not None:
            claimed = await self._pool.claim(owner, profile.id, ttl)
            if claimed is not None:
                bind_contextvars(sandbox_id=claimed)
                sandbox = await self._db.get(Sandbox, claimed)
                if sandbox is not None:
                    sandbox.user_metadata = request.metadata or None
                    await self._db.flush()
                    self._remember(sandbox)
                    return self.out(sandbox, None)
        sandbox_id = new_id("sandbox")
        bind_contextvars(sandbox_id=sandbox_id)
        if request.cargo_id is not None:
            cargo = await self._cargos.get(owner, request.cargo_id)
            if cargo.managed:
                raise InvalidRequestError(
                    f"Cargo {cargo.id} belongs to sandbox {cargo.managed_by_sandbox_id} and "
                    "is deleted with it; attach an external cargo (POST /v1/cargos) instead",
                    {"cargo_id": cargo.id},
                )
        else:
            cargo = await self._cargos.create(owner, managed_by=sandbox_id)
        now = self._clock()
        sandbox = Sandbox(
            id=sandbox_id,
            owner=owner,
            profile_id=profile.id,
            cargo_id=cargo.id,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl) if ttl else None,
            network_policy=network,
            user_metadata=request.metadata or None,
            user_env=request.env or None,
        )
        self._db.add(sandbox)
        await self._db.flush()
        self._remember(sandbox)
        return self.out(sandbox, None)

    def _remember(self, sandbox: Sandbox) -> None:
        """A new sandbox's first call (the agent's next request) needs no read to be checked.
        Before the commit: should it fail, the id was never answered, and a call naming it
        is refused by the row lock or the running-session lookup (404)."""
        usable = Usable(sandbox.id, sandbox.owner, sandbox.profile_id, sandbox.expires_at)
        known = self._sessions.known
        known.remember(usable.id, usable, known.generation)

    async def get(self, owner: str, sandbox_id: str) -> Sandbox:
        """The owner's live sandbox, or 404 (another owner's id is a 404 too)."""
        sandbox = await self._db.scalar(_LIVE_SANDBOX, {"id": sandbox_id, "owner": owner})
        if sandbox is None:
            raise NotFoundError(f"Sandbox not found: {sandbox_id}")
        return sandbox

    async def unexpired(self, owner: str, sandbox_id: str) -> Sandbox:
        """The owner's sandbox, or 404; 409 `sandbox_expired` once past its TTL."""
        sandbox = await self.get(owner, sandbox_id)
        if past_ttl(sandbox.expires_at, self._clock()):
            raise expired_error(sandbox.id, sandbox.expires_at)
        return sandbox

    async def describe(self, owner: str, sandbox_id: str) -> SandboxOut:
        sandbox = await self.get(owner, sandbox_id)
        session = await self._current_session(sandbox)
        out = self.out(sandbox, session)
        if out.status == SandboxStatus.READY and session is not None and session.endpoint:
            out.containers = [await self._container(sandbox, session.endpoint)]
            profile = self._profile(sandbox)
            if profile is not None:
                traffic = self._sessions.traffic(session)
                out.network = networks.shown(sandbox, profile, traffic)
        return out

    async def page(
        self,
        owner: str,
        limit: int,
        cursor: str | None,
        wanted: SandboxStatus | None,
        labels: Mapping[str, str] | None = None,
    ) -> SandboxList:
        """By id; a status filter scans in batches and stops at a budget (contract §1.5).
        `labels`: only sandboxes whose metadata has each of these values."""
        batch = limit + 1 if wanted is None else min(max(limit * 5, 50), 500)
        budget = limit + 1 if wanted is None else max(limit * 20, 1000)
        items: list[SandboxOut] = []
        scanned, last = 0, cursor
        while len(items) <= limit and scanned < budget:
            rows = await self._batch(owner, last, batch, labels or {})
            if not rows:
                break
            scanned, last = scanned + len(rows), rows[-1].id
            sessions = await self._sessions_by_id(rows)
            outs = [self.out(row, sessions.get(row.current_session_id or "")) for row in rows]
            items += [out for out in outs if wanted is None or out.status == wanted]
        if len(items) > limit:
            return SandboxList(items=items[:limit], next_cursor=items[limit - 1].id)
        exhausted = scanned < budget
        return SandboxList(items=items, next_cursor=None if exhausted else last)

    async def _batch(
        self, owner: str, after: str | None, size: int, labels: Mapping[str, str]
    ) -> list[Sandbox]:
        query = select(Sandbox).where(
            Sandbox.owner == owner, Sandbox.deleted_at.is_(None), Sandbox.is_warm_pool.is_(False)
        )
        for key, value in labels.items():
            query = query.where(Sandbox.user_metadata[key].as_string() == value)
        if after:
            query = query.where(Sandbox.id > after)
        return list(await self._db.scalars(query.order_by(Sandbox.id).limit(size)))

    async def extend_ttl(self, owner: str, sandbox_id: str, extend_by: int) -> SandboxOut:
        """Push `expires_at` out; never revives an expired sandbox nor limits an infinite one."""
        if extend_by <= 0:
            raise InvalidRequestError("extend_by must be a positive number of seconds")
        async with self._sessions.hold(sandbox_id):
            sandbox = await self.get(owner, sandbox_id)
            await self._db.refresh(sandbox)
            now = self._clock()
            if sandbox.expires_at is None:
                raise SandboxTTLInfiniteError(
                    f"Sandbox {sandbox_id} has no TTL to extend", {"sandbox_id": sandbox_id}
                )
            if sandbox.expires_at < now:
                raise expired_error(sandbox.id, sandbox.expires_at)
            sandbox.expires_at = max(sandbox.expires_at, now) + timedelta(seconds=extend_by)
            await self._db.flush()
            return self.out(sandbox, None)

    async def keepalive(self, owner: str, sandbox_id: str) -> None:
        """Renew the idle lease without starting compute; the TTL is untouched."""
        sandbox = await self.get(owner, sandbox_id)
        profile = self._profiles.get(sandbox.profile_id)
        now = self._clock()
        sandbox.last_active_at = now
        sandbox.idle_expires_at = now + timedelta(seconds=profile.idle_timeout)
        await self._db.flush()

    async def stop(self, owner: str, sandbox_id: str) -> None:
        await self.get(owner, sandbox_id)
        await self._sessions.stop(sandbox_id)

    async def delete(self, owner: str, sandbox_id: str) -> None:
        """Idempotent: an already deleted sandbox of this owner is fine, a stranger's is 404."""
        sandbox = await self._db.scalar(
            select(Sandbox).where(
                Sandbox.id == sandbox_id, Sandbox.owner == owner, Sandbox.is_warm_pool.is_(False)
            )
        )
        if sandbox is None:
            raise NotFoundError(f"Sandbox not found: {sandbox_id}")
        if sandbox.deleted_at is None:
            await self._sessions.delete(sandbox_id, self._clock())

    def out(self, sandbox: Sandbox, session: Session | None) -> SandboxOut:
        return SandboxOut(
            id=sandbox.id,
            status=self._status(sandbox, session),
            profile=sandbox.profile_id,
            cargo_id=sandbox.cargo_id,
            capabilities=self._profiles.capabilities(sandbox.profile_id),
            created_at=sandbox.created_at,
            expires_at=sandbox.expires_at,
            idle_expires_at=sandbox.idle_expires_at,
            containers=None,
            network=self._network(sandbox),
            metadata=sandbox.user_metadata or {},
        )

    def _network(self, sandbox: Sandbox) -> SandboxNetwork | None:
        profile = self._profile(sandbox)
        return None if profile is None else networks.shown(sandbox, profile, None)

    def _profile(self, sandbox: Sandbox) -> ProfileSettings | None:
        """The sandbox's profile, None when the configuration no longer has it."""
        return self._profiles.find(sandbox.profile_id)

    def _status(self, sandbox: Sandbox, session: Session | None) -> SandboxStatus:
        expired = past_ttl(sandbox.expires_at, self._clock())
        return sandbox_status(expired, session.observed_state if session else None)

    async def _current_session(self, sandbox: Sandbox) -> Session | None:
        if sandbox.current_session_id is None:
            return None
        return await self._db.get(Session, sandbox.current_session_id)

    async def _sessions_by_id(self, sandboxes: list[Sandbox]) -> dict[str, Session]:
        ids = [s.current_session_id for s in sandboxes if s.current_session_id]
        if not ids:
            return {}
        rows = await self._db.scalars(select(Session).where(Session.id.in_(ids)))
        return {row.id: row for row in rows}

    async def _container(self, sandbox: Sandbox, endpoint: str) -> ContainerRuntime:
        try:
            health = await self._ship.health(endpoint)
            version, healthy = health.version, True
        except ShipCallError:
            version, healthy = None, False
        return ContainerRuntime(
            name="ship",
            runtime_type="ship",
            status="running",
            version=version,
            capabilities=self._profiles.capabilities(sandbox.profile_id),
            healthy=healthy,
        )


_SESSION_STATUS = {
    RUNNING: SandboxStatus.READY,
    STARTING: SandboxStatus.STARTING,
    "failed": SandboxStatus.FAILED,
}


def sandbox_status(expired: bool, session_state: str | None) -> SandboxStatus:
    """What a sandbox looks like from outside: its TTL first, then its current session."""
    if expired:
        return SandboxStatus.EXPIRED
    if session_state is None:
        return SandboxStatus.IDLE
    return _SESSION_STATUS.get(session_state, SandboxStatus.IDLE)
