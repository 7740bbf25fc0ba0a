"""Named leases in the database, so one Bay replica at a time runs a job (GC, pool refill)."""

from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession as DbSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from bay.db.models import Lease


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


async def release(sessionmaker: async_sessionmaker[DbSession], name: str, holder: str) -> None:
    async with sessionmaker() as db, db.begin():
        await db.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))
