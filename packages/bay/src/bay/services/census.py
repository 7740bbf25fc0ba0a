"""The gauges a scrape reads from the database: sandboxes by status and profile, pool depth."""

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession as DbSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from bay.db.models import Sandbox, Session
from bay.metrics import Metrics
from bay.services.clock import Clock
from bay.services.sandboxes import sandbox_status
from bay.services.warm_pool import WarmPool


class Census:
    """Built once per process; `refresh()` before each exposition."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[DbSession],
        pool: WarmPool,
        metrics: Metrics,
        clock: Clock,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._pool = pool
        self._metrics = metrics
        self._clock = clock

    async def refresh(self) -> None:
        counts = await self._sandboxes()
        pool = await self._pool.status()
        sandboxes = self._metrics.sandboxes
        sandboxes.clear()
        for (status, profile), count in counts.items():
            sandboxes.labels(status, profile).set(count)
        for profile, depth in pool.profiles.items():
            self._metrics.warm_pool_available.labels(profile).set(depth.available)
            self._metrics.warm_pool_warming.labels(profile).set(depth.warming)

    async def _sandboxes(self) -> dict[tuple[str, str], int]:
        expired = and_(Sandbox.expires_at.is_not(None), Sandbox.expires_at < self._clock())
        query = (
            select(Sandbox.profile_id, Session.observed_state, expired, func.count())
            .outerjoin(Session, Session.id == Sandbox.current_session_id)
            .where(Sandbox.deleted_at.is_(None), Sandbox.is_warm_pool.is_(False))
            .group_by(Sandbox.profile_id, Session.observed_state, expired)
        )
        counts: dict[tuple[str, str], int] = {}
        async with self._sessionmaker() as db:
            for profile, state, is_expired, count in (await db.execute(query)).all():
                key = (sandbox_status(bool(is_expired), state).value, profile)
                counts[key] = counts.get(key, 0) + count
        return counts
