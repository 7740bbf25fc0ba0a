"""Keys that authenticated a moment ago, so most requests skip the key table.

Every request used to read the key table: a database round trip on every call, the first
thing a warm execution waited for. A key seen in the last `ttl` seconds is trusted again
without it. A revocation through this Bay clears the memory at once; one made elsewhere
(another replica, `bay keys revoke`) holds within `ttl`.
"""

import time
from collections.abc import Callable

from bay.services.keys import Principal

MAX_REMEMBERED = 10_000


class RecentKeys:
    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._seen: dict[str, tuple[Principal, float]] = {}
        self._generation = 0

    @property
    def generation(self) -> int:
        """Read before a lookup starts and hand it to `remember`: a lookup that raced a
        revocation is then not remembered."""
        return self._generation

    def recall(self, key_hash: str) -> Principal | None:
        seen = self._seen.get(key_hash)
        if seen is None:
            return None
        principal, until = seen
        if self._clock() >= until:
            del self._seen[key_hash]
            return None
        return principal

    def remember(self, key_hash: str, principal: Principal, generation: int) -> None:
        if self._ttl <= 0 or generation != self._generation:
            return
        if len(self._seen) >= MAX_REMEMBERED:
            self._seen.clear()
        self._seen[key_hash] = (principal, self._clock() + self._ttl)

    def forget_all(self) -> None:
        self._generation += 1
        self._seen.clear()
