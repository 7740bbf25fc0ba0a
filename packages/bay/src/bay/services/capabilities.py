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


class KnownSandboxes:
    """Sandboxes found usable in the last `ttl` seconds, by id.

    `generation` moves on each forget: a check that read a row before a delete committed
    must not remember it after the delete forgot it (`remember(ref, since=generation)`).
    """

    def __init__(self, ttl: float = REMEMBER_S, clock: Callable[[], float] = time.monotonic):
        self._ttl = ttl
        self._clock = clock
        self._seen: dict[str, tuple[Usable, float]] = {}
        self.generation = 0

    def recall(self, owner: str, sandbox_id: str) -> Usable | None:
        seen = self._seen.get(sandbox_id)
        if seen is None or seen[0].owner != owner:
            return None
        if self._clock() >= seen[1]:
            del self._seen[sandbox_id]
            return None
        return seen[0]

    def remember(self, ref: Usable, since: int | None = None) -> None:
        """Remember `ref`, unless something was forgotten since generation `since`."""
        if since is not None and since != self.generation:
            return
        self._seen.pop(ref.id, None)
        if len(self._seen) >= MAX_REMEMBERED:
            del self._seen[next(iter(self._seen))]  # the oldest
        self._seen[ref.id] = (ref, self._clock() + self._ttl)

    def forget(self, sandbox_id: str) -> None:
        self.generation += 1
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

    async def usable(
        self, owner: str, sandbox_id: str, capability: str, recall: bool = True
    ) -> Usable:
        """The owner's sandbox (404), not past its TTL (409), offering `capability` (400).
        `recall=False`: read it even if it is remembered."""
        ref = self._known.recall(owner, sandbox_id) if recall else None
        if ref is None or ref.expired(self._clock()):  # its TTL may have been extended since
            generation = self._known.generation
            ref = await self._read(owner, sandbox_id)
            if ref.expired(self._clock()):
                raise expired_error(ref.id, ref.expires_at)
            self._known.remember(ref, since=generation)
        self._profiles.require(ref.profile_id, capability)
        return ref

    async def _read(self, owner: str, sandbox_id: str) -> Usable:
        async with self._sessionmaker() as db:
            row = (await db.execute(_USABLE, {"id": sandbox_id, "owner": owner})).first()
        if row is None:
            raise NotFoundError(f"Sandbox not found: {sandbox_id}")
        return Usable(row.id, row.owner, row.profile_id, row.expires_at)
