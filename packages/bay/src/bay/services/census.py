"""The gauges a scrape reads from the database: sandboxes by status and profile, pool depth."""

from collections import Counter

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession as DbSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from bay.db.models import Sandbox, Session
from bay.metrics import Metrics
from bay.services.clock import Clock
from bay.services.sandboxes import sandbox_status
from bay.services.warm_pool import WarmPool
from shipyard_protocol.api import SandboxStatus


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

    async def _sandboxes(self) -> Counter[tuple[str, str]]:
        # The expiry is an aggregate, not a GROUP BY term: PostgreSQL would not match a
        # grouped expression holding a bound parameter with the same one in the select list.
        expired = and_(Sandbox.expires_at.is_not(None), Sandbox.expires_at < self._clock())
        query = (
            select(
                Sandbox.profile_id,
                Session.observed_state,
                func.count(),
                func.sum(case((expired, 1), else_=0)),
            )
            .outerjoin(Session, Session.id == Sandbox.current_session_id)
            .where(Sandbox.deleted_at.is_(None), Sandbox.is_warm_pool.is_(False))
            .group_by(Sandbox.profile_id, Session.observed_state)
        )
        counts: Counter[tuple[str, str]] = Counter()
        async with self._sessionmaker() as db:
            for profile, state, total, expired_count in (await db.execute(query)).all():
                gone = int(expired_count or 0)
                counts[(sandbox_status(False, state).value, profile)] += total - gone
                counts[(SandboxStatus.EXPIRED.value, profile)] += gone
        return counts
