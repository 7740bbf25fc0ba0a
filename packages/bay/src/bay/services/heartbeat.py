"""Heartbeat: Bay speaks to every running session's Ship, whose lease would otherwise run out.

A Ship that hears from no Bay for its idle timeout plus `ship.orphan_grace_seconds` ends its
sandbox (a lost Bay must not leave sandboxes running forever); this keeps a live Bay's sessions
alive through any quiet spell, idle timeout or none, with GC on or off.
"""

import asyncio
import logging

from sqlalchemy import select

from bay.db.models import Session
from bay.services.sessions import RUNNING, SessionRuntime
from bay.services.ship_logs import relay
from bay.ship_client import ShipCallError

log = logging.getLogger(__name__)

BEATS_PER_GRACE = 4
CONCURRENT_BEATS = 16


class Heartbeat:
    """Built once per process; every replica beats every session it can reach."""

    def __init__(self, runtime: SessionRuntime, grace_s: float) -> None:
        self._rt = runtime
        self.interval_s = grace_s / BEATS_PER_GRACE
        self._turns = asyncio.Semaphore(CONCURRENT_BEATS)

    async def beat_once(self) -> int:
        """A call to each running session's Ship, which also drains its log; how many answered."""
        async with self._rt.sessionmaker() as db:
            query = select(Session.endpoint, Session.sandbox_id, Session.id).where(
                Session.observed_state == RUNNING, Session.endpoint.is_not(None)
            )
            sessions = [
                (e, sandbox, session) for e, sandbox, session in await db.execute(query) if e
            ]
        answered = await asyncio.gather(*(self._beat(*session) for session in sessions))
        return sum(answered)

    async def loop(self) -> None:
        """The background schedule; errors are logged and the loop goes on."""
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.beat_once()
            except Exception:
                log.exception("heartbeat failed")

    async def _beat(self, endpoint: str, sandbox_id: str, session_id: str) -> bool:
        async with self._turns:
            try:
                await self._rt.ship.health(endpoint, timeout=min(10.0, self.interval_s))
            except ShipCallError as exc:
                # One ending, or one this replica cannot reach (another host's): no matter.
                log.debug("heartbeat to %s of %s failed: %s", endpoint, sandbox_id, exc)
                return False
            await relay(self._rt.ship, endpoint, sandbox_id, session_id)
        return True
