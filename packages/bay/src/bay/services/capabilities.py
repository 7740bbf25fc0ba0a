"""The capability check of sandbox calls (contract §1.4: 404, then 409 expired, then 400),
answered from memory when the sandbox was found usable a moment ago.

A warm execution used to read its sandbox twice: here, then under the row lock in the
transaction that finds its session. What is remembered cannot change (owner, profile) or is
checked on each recall (expiry; a TTL extended since is read again). A deletion is not: a
sandbox this Bay deletes is forgotten at once, and one deleted through another replica is
refused by whatever the call reads next: the row lock of a call that may start the session
(404), the running-session lookup of one that only uses it (404). Until then, for at most
`REMEMBER_S`, such a call on that other replica answers 400 or 422 where a fresh read would
answer 404. Calls that read nothing of the sandbox after the check (a browser trace) do not
use the memory.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession as DbSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from bay.db.models import Sandbox
from bay.errors import NotFoundError, SandboxExpiredError
from bay.services.clock import Clock
from bay.services.memory import Memory
from bay.services.profiles import ProfileCatalog
from shipyard_protocol.api import rfc3339

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
        return past_ttl(self.expires_at, now)


def past_ttl(expires_at: datetime | None, now: datetime) -> bool:
    """Whether a sandbox with this expiry (None: no TTL) has expired at `now`."""
    return expires_at is not None and now > expires_at


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


def sandbox_memory() -> Memory[Usable]:
    """The capability checks' memory: usable sandboxes by id, each for `REMEMBER_S`."""
    return Memory(REMEMBER_S)


class CapabilityCheck:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[DbSession],
        profiles: ProfileCatalog,
        clock: Clock,
        known: Memory[Usable],
    ) -> None:
        self._sessionmaker = sessionmaker
        self._profiles = profiles
        self._clock = clock
        self._known = known

    async def usable(
        self, owner: str, sandbox_id: str, capability: str, recall: bool = True
    ) -> Usable:
        """The owner's sandbox (404), not past its TTL (409), offering `capability` (400).
        `recall=False`: read it even if it is remembered."""
        ref = self._known.recall(sandbox_id) if recall else None
        if ref is None or ref.owner != owner or ref.expired(self._clock()):
            # Not remembered, another owner's (a 404 read from the table), or past the TTL
            # remembered (it may have been extended since).
            generation = self._known.generation
            ref = await self._read(owner, sandbox_id)
            if ref.expired(self._clock()):
                raise expired_error(ref.id, ref.expires_at)
            self._known.remember(ref.id, ref, generation)
        self._profiles.require(ref.profile_id, capability)
        return ref

    async def _read(self, owner: str, sandbox_id: str) -> Usable:
        async with self._sessionmaker() as db:
            row = (await db.execute(_USABLE, {"id": sandbox_id, "owner": owner})).first()
        if row is None:
            raise NotFoundError(f"Sandbox not found: {sandbox_id}")
        return Usable(row.id, row.owner, row.profile_id, row.expires_at)
