"""Named leases in the database, so one Bay replica at a time runs a job (GC, pool refill),
and every replica's own lease (`replica:<instance id>`) says that it is alive.

A lease is renewed while its work runs (`held`, `keep`): one that runs out means its holder
stopped, and another replica may take over.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession as DbSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from bay.db.models import Lease
from bay.services.clock import Clock

log = logging.getLogger(__name__)

REPLICA_PREFIX = "replica:"
RENEWALS_PER_LEASE = 3


async def acquire(
    sessionmaker: async_sessionmaker[DbSession],
    name: str,
    holder: str,
    now: datetime,
    seconds: float,
) -> bool:
    """Take the lease if it is free, expired or already ours; False if another holds it."""
    until = now + timedelta(seconds=seconds)
    async with sessionmaker() as db:
        db.add(Lease(name=name, holder=holder, expires_at=until))
        try:
            await db.commit()
            return True
        except IntegrityError:
            await db.rollback()
        taken = await db.execute(
            update(Lease)
            .where(Lease.name == name)
            .where((Lease.expires_at < now) | (Lease.holder == holder))
            .values(holder=holder, expires_at=until)
        )
        await db.commit()
        return bool(taken.rowcount)  # type: ignore[attr-defined]


async def take(
    sessionmaker: async_sessionmaker[DbSession],
    name: str,
    holder: str,
    now: datetime,
    seconds: float,
) -> str | None:
    """Take the lease whoever holds it: a replica's own, at its start (its last run is over).
    Return the holder it had if that had not expired yet."""
    until = now + timedelta(seconds=seconds)
    async with sessionmaker() as db, db.begin():
        held = await db.get(Lease, name, with_for_update=True)
        previous = held.holder if held is not None and held.expires_at >= now else None
        await db.execute(delete(Lease).where(Lease.name == name))
        db.add(Lease(name=name, holder=holder, expires_at=until))
    return previous


async def release(sessionmaker: async_sessionmaker[DbSession], name: str, holder: str) -> None:
    async with sessionmaker() as db, db.begin():
        await db.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))


async def keep(
    sessionmaker: async_sessionmaker[DbSession],
    name: str,
    holder: str,
    clock: Clock,
    seconds: float,
) -> None:
    """Renew the lease a few times per its length until cancelled; errors are logged."""
    while True:
        await asyncio.sleep(seconds / RENEWALS_PER_LEASE)
        try:
            if not await acquire(sessionmaker, name, holder, clock(), seconds):
                log.warning("lease %s: another replica took it over", name)
        except Exception:
            log.exception("lease %s: renewal failed", name)


@asynccontextmanager
async def held(
    sessionmaker: async_sessionmaker[DbSession],
    name: str,
    holder: str,
    now: datetime,
    clock: Clock,
    seconds: float,
) -> AsyncIterator[bool]:
    """The lease for the duration of a job, renewed while it runs: True if it is ours."""
    if not await acquire(sessionmaker, name, holder, now, seconds):
        yield False
        return
    renewal = asyncio.create_task(keep(sessionmaker, name, holder, clock, seconds))
    try:
        yield True
    finally:
        renewal.cancel()
        await asyncio.gather(renewal, return_exceptions=True)
        await release(sessionmaker, name, holder)


def replica(instance_id: str) -> str:
    """The name of a replica's liveness lease."""
    return f"{REPLICA_PREFIX}{instance_id}"


async def live_replicas(db: DbSession, now: datetime) -> set[str]:
    """The instance ids whose replica lease has not run out."""
    names = await db.scalars(
        select(Lease.name).where(Lease.name.startswith(REPLICA_PREFIX), Lease.expires_at >= now)
    )
    return {name.removeprefix(REPLICA_PREFIX) for name in names}


async def live_runs(db: DbSession, now: datetime) -> set[str]:
    """The holders (`<instance id>/<run id>`) of the replica leases that have not run out: a
    replica restarted under its old id is a new run."""
    holders = await db.scalars(
        select(Lease.holder).where(Lease.name.startswith(REPLICA_PREFIX), Lease.expires_at >= now)
    )
    return set(holders)
