"""Running sandboxes whose port relay was checked a moment ago, so a page's burst of requests
costs one database round trip, not one each.

Checking a port request against the database (owner, expiry, running session, idle lease)
took most of the time a proxied request spent in Bay. What was true a second ago is
trusted again: the idle lease is renewed at most once a second anyway, a sandbox's TTL caps
the memory, and a session this Bay ends is forgotten at once; one ended by another replica
holds for at most `ttl` (its requests then fail as unreachable, 502).
"""

import time
from collections.abc import Callable
from datetime import datetime

MAX_REMEMBERED = 10_000


class RecentSandboxes:
    def __init__(self, ttl: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._seen: dict[str, tuple[str, str, float]] = {}

    def recall(self, owner: str, sandbox_id: str) -> str | None:
        """Ship's endpoint, if `owner`'s sandbox was running a moment ago."""
        seen = self._seen.get(sandbox_id)
        if seen is None or seen[0] != owner:
            return None
        if self._clock() >= seen[2]:
            self._seen.pop(sandbox_id, None)
            return None
        return seen[1]

    def remember(
        self, owner: str, sandbox_id: str, endpoint: str, now: datetime, ends: datetime | None
    ) -> None:
        ttl = self._ttl if ends is None else min(self._ttl, (ends - now).total_seconds())
        if ttl <= 0:
            return
        if len(self._seen) >= MAX_REMEMBERED:
            self._seen.clear()
        self._seen[sandbox_id] = (owner, endpoint, self._clock() + ttl)

    def forget(self, sandbox_id: str) -> None:
        self._seen.pop(sandbox_id, None)
