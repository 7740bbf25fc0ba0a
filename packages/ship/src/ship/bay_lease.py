"""Ship's lease from Bay: Ship ends itself, and its sandbox with it, once no Bay has spoken to
it for a while, so a lost Bay never leaves sandboxes running forever."""

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from starlette.types import ASGIApp, Receive, Scope, Send

from ship.auth import carries_token

logger = logging.getLogger(__name__)


class BayLease:
    """Runs out `after` seconds past the end of Bay's last request, never while one is in
    flight: a long execution, an event stream or an open terminal is Bay still speaking."""

    def __init__(self, after: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.after = after
        self._clock = clock
        self._last = clock()
        self._in_flight = 0

    @contextmanager
    def held(self) -> Iterator[None]:
        """Around one of Bay's requests, from its first byte to its last."""
        self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1
            self._last = self._clock()

    def remaining(self) -> float:
        """Seconds until the lease runs out if Bay says nothing more (0: it has)."""
        if self._in_flight:
            return self.after
        return max(0.0, self._last + self.after - self._clock())


class LeaseRenewer:
    """Hold the lease for each request from Bay. With `digest` (a Ship on TCP) only requests
    that carry Bay's token count: the sandbox reaches its own Ship's port, but has no token."""

    def __init__(self, app: ASGIApp, lease: BayLease, digest: str | None = None) -> None:
        self.app = app
        self._lease = lease
        self._digest = bytes.fromhex(digest) if digest is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self._from_bay(scope):
            await self.app(scope, receive, send)
            return
        with self._lease.held():
            await self.app(scope, receive, send)

    def _from_bay(self, scope: Scope) -> bool:
        return self._digest is None or carries_token(scope, self._digest)


async def watch(lease: BayLease, on_expiry: Callable[[], None]) -> None:
    """Call `on_expiry` once, when the lease runs out."""
    # A sleep to the lease's end, not a poll: a request since then moved the end on.
    while True:
        left = lease.remaining()
        if left <= 0:
            break
        await asyncio.sleep(left)
    logger.warning("no word from Bay for %g s: ending this sandbox", lease.after)
    on_expiry()
