"""Per-sandbox in-process locks that disappear when nobody holds or waits for them."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class SandboxLocks:
    """Serialises work on one sandbox inside this process; the DB row lock covers replicas."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, sandbox_id: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(sandbox_id, asyncio.Lock())
        self._users[sandbox_id] = self._users.get(sandbox_id, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[sandbox_id] -= 1
            if self._users[sandbox_id] == 0:
                del self._users[sandbox_id]
                del self._locks[sandbox_id]

    def __len__(self) -> int:
        return len(self._locks)
