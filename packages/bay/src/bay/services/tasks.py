"""Background tasks that must outlive the request that started them (held, then cancelled)."""

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class Tasks:
    """Keeps a reference to each task (asyncio only holds weak ones) until it ends."""

    def __init__(self) -> None:
        self._running: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._running.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    async def drain(self, seconds: float = 0) -> None:
        """Let running tasks finish for up to `seconds`, then cancel what is left."""
        if self._running and seconds > 0:
            await asyncio.wait(set(self._running), timeout=seconds)
        for task in list(self._running):
            task.cancel()
        if self._running:
            await asyncio.wait(set(self._running))

    def __len__(self) -> int:
        return len(self._running)
