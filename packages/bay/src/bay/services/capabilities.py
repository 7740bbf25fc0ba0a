"""The capability check of sandbox calls (contract §1.4: 404, then 409 expired, then 400),
answered from memory when the sandbox was found usable a moment ago.

A warm execution used to read its sandbox twice: here, then under the row lock in the
transaction that finds its session. What is remembered cannot change (owner, profile) or is
checked again under that lock (deleted: 404; past its TTL: 409), so memory only spares this
read and never lets a call through that the lock would refuse. A sandbox this Bay deletes
or retires is forgotten at once; what another replica deleted is refused by the lock.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession as DbSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from bay.db.models import Sandbox
from bay.errors import NotFoundError, SandboxExpiredError
from bay.services.clock import Clock
from bay.services.profiles import ProfileCatalog
from shipyard_protocol.api import rfc3339

MAX_REMEMBERED = 10_000
REMEMBER_S = 30.0


class SandboxRef(Protocol):
    """What calls on a sandbox need of it: its row, or what a capability check remembers."""

    @property
    def id(self) -> str: ...

    @property
    def owner(self) -> str: ...

    @property
    def profile_id(self) -> str: ...


@dataclass(frozen=True)
class Usable:
    """A sandbox a capability call may use, as read once (values, not a database row)."""

    id: str
    owner: str
    profile_id: str
    expires_at: datetime | None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now > self.expires_at


# Built once: every capability call whose sandbox is not remembered runs it.
_USABLE = select(Sandbox.id, Sandbox.owner, Sandbox.profile_id, Sandbox.expires_at).where(
    Sandbox.id == bindparam("id"),
    Sandbox.owner == bindparam("owner"),
    Sandbox.deleted_at.is_(None),
    Sandbox.is_warm_pool.is_(False),
)


def expired_error(sandbox_id: str, expires_at: datetime | None) -> SandboxExpiredError:
    at = rfc3339(expires_at) if expires_at else None
    return SandboxExpiredError(
        f"Sandbox {sandbox_id} expired at {at}", {"sandbox_id": sandbox_id, "expires_at": at}
    )


class KnownSandboxes:
    """Sandboxes found usable in the last `ttl` seconds, by id."""

    def __init__(self, ttl: float = REMEMBER_S, clock: Callable[[], float] = time.monotonic):
        self._ttl = ttl
        self._clock = clock
        self._seen: dict[str, tuple[Usable, float]] = {}

    def recall(self, owner: str, sandbox_id: str) -> Usable | None:
        seen = self._seen.get(sandbox_id)
        if seen is None or seen[0].owner != owner:
            return None
        if self._clock() >= seen[1]:
            del self._seen[sandbox_id]
            return None
        return seen[0]

    def remember(self, ref: Usable) -> None:
        if len(self._seen) >= MAX_REMEMBERED:
            self._seen.clear()
        self._seen[ref.id] = (ref, self._clock() + self._ttl)

    def forget(self, sandbox_id: str) -> None:
        self._seen.pop(sandbox_id, None)


class CapabilityCheck:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[DbSession],
        profiles: ProfileCatalog,
        clock: Clock,
        known: KnownSandboxes,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._profiles = profiles
        self._clock = clock
        self._known = known

    async def usable(self, owner: str, sandbox_id: str, capability: str) -> Usable:
        """The owner's sandbox (404), not past its TTL (409), offering `capability` (400)."""
        ref = self._known.recall(owner, sandbox_id)
        if ref is None or ref.expired(self._clock()):  # its TTL may have been extended since
            ref = await self._read(owner, sandbox_id)
            if ref.expired(self._clock()):
                raise expired_error(ref.id, ref.expires_at)
            self._known.remember(ref)
        self._profiles.require(ref.profile_id, capability)
        return ref

    async def _read(self, owner: str, sandbox_id: str) -> Usable:
        async with self._sessionmaker() as db:
            row = (await db.execute(_USABLE, {"id": sandbox_id, "owner": owner})).first()
        if row is None:
            raise NotFoundError(f"Sandbox not found: {sandbox_id}")
        return Usable(row.id, row.owner, row.profile_id, row.expires_at)
