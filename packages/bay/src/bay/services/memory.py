"""`Memory`: what a lookup found a moment ago, trusted again for a while instead of looked up.

Bay keeps three, each explained where it is used: the keys that authenticated
(`api.middleware.authenticate`), the sandboxes a capability check found usable
(`services.capabilities`), and the running sandboxes of port relays (`services.ports`).
"""

import time
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")

MAX_REMEMBERED = 10_000


class Memory(Generic[V]):
    """Values by key, each trusted for `ttl` seconds (less where `remember` is told so); at
    most `size` of them, the oldest forgotten first.

    `generation` moves on with each forget. A lookup reads it before it starts and hands it
    to `remember`: what it found is then not remembered if a forget (a revocation, a
    deletion) landed meanwhile, since the lookup may have read what that forget undid.
    """

    def __init__(
        self, ttl: float, clock: Callable[[], float] = time.monotonic, size: int = MAX_REMEMBERED
    ) -> None:
        self._ttl = ttl
        self._clock = clock
        self._size = size
        self._seen: dict[str, tuple[V, float]] = {}
        self.generation = 0

    def recall(self, key: str) -> V | None:
        seen = self._seen.get(key)
        if seen is None:
            return None
        if self._clock() >= seen[1]:
            del self._seen[key]
            return None
        return seen[0]

    def remember(self, key: str, value: V, since: int, ttl: float | None = None) -> None:
        """Remember `value` for `ttl` seconds (at most the memory's own), unless something
        was forgotten since generation `since`."""
        ttl = self._ttl if ttl is None else min(ttl, self._ttl)
        if ttl <= 0 or since != self.generation:
            return
        self._seen.pop(key, None)
        if len(self._seen) >= self._size:
            del self._seen[next(iter(self._seen))]  # the oldest
        self._seen[key] = (value, self._clock() + ttl)

    def forget(self, key: str) -> None:
        self.generation += 1
        self._seen.pop(key, None)

    def forget_all(self) -> None:
        self.generation += 1
        self._seen.clear()
