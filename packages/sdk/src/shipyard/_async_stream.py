"""`AsyncExecStream`: one execution's events, read by `async for` and resumed when cut."""

from collections.abc import AsyncGenerator
from types import TracebackType
from typing import Self

from shipyard._events import Tracker
from shipyard_protocol.ship import EndEvent, ExecEvent


class AsyncExecStream:
    """The events of one execution: `async for event in stream` (or `async with` first).

    It yields `shipyard_protocol.ship` models: `OutputEvent` (stdout, stderr),
    `DisplayEvent`, `ResultEvent`, `ErrorEvent`, and always last an `EndEvent` with
    success, exit code and duration. When the connection drops before `end`, it reconnects
    and goes on right after the last event it yielded, with no gap and no duplicate (per the
    client's `Retries`); when it cannot, it raises `StreamInterruptedError`. Nothing is sent
    until the first event is asked for. Leaving early (`aclose()`, or `async with`) frees
    the connection; the execution goes on in the sandbox.
    """

    def __init__(self, events: AsyncGenerator[ExecEvent, None], tracker: Tracker) -> None:
        self._events = events
        self._tracker = tracker

    @property
    def execution_id(self) -> str | None:
        """The execution's id, `exec-…`, once its first event arrived."""
        return self._tracker.execution_id

    @property
    def last_event_id(self) -> int:
        """The id of the last event yielded (0 before the first): resume after it."""
        return self._tracker.last_event_id

    @property
    def end(self) -> EndEvent | None:
        """The final event, once it arrived."""
        return self._tracker.end

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> ExecEvent:
        return await anext(self._events)

    async def aclose(self) -> None:
        """Stop reading and free the connection; the execution itself goes on."""
        await self._events.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
