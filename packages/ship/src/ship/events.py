"""An execution's event log: sequenced, bounded, followed live, holding back a producer on lag."""

import asyncio
import weakref
from collections import deque
from collections.abc import AsyncGenerator
from contextlib import suppress
from dataclasses import dataclass
from itertools import islice
from typing import Any, NamedTuple

from ship.errors import EventsGoneError
from shipyard_protocol.ship import DisplayEvent, EndEvent, ErrorEvent, OutputEvent, ResultEvent

NDJSON = "application/x-ndjson"
AnyEvent = type[OutputEvent] | type[DisplayEvent] | type[ResultEvent] | type[ErrorEvent]
# A producer held back by a lagging follower resumes once the unread part is down to this share.
_RESUME_SHARE = 0.5
_POLL = 1.0


@dataclass(frozen=True)
class LogBounds:
    """How much of an execution's events Ship keeps, and how long a stuck follower may stall it."""

    max_bytes: int = 16 * 1024 * 1024
    max_events: int = 65536
    stall: float = 300.0


class _Entry(NamedTuple):
    seq: int
    end: int  # bytes appended to the log up to and including this entry
    line: bytes


class _Cursor:
    """A follower's position: the last seq it was handed."""

    def __init__(self, seq: int) -> None:
        self.seq = seq
        self.evicted = False


class _Signal:
    """Wakes every waiter once per `notify`."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float | None = None) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)


class EventLog:
    """Events of one execution as NDJSON lines, seq from 1, the last one always `end`.

    With no follower the oldest events are dropped to stay within bounds. While a follower
    lags by more than the bounds, `full` is true and producers wait in `wait_room`, so an
    attached follower never misses an event.
    """

    def __init__(self, execution_id: str, bounds: LogBounds) -> None:
        self.execution_id = execution_id
        self.last_seq = 0
        self.ended = False
        self._bounds = bounds
        self._entries: deque[_Entry] = deque()
        self._appended_bytes = 0
        # Weak, so a stream that is dropped before it is ever iterated does not hold the log.
        self._cursors: weakref.WeakSet[_Cursor] = weakref.WeakSet()
        self._appended = _Signal()
        self._progress = _Signal()

    @property
    def full(self) -> bool:
        return self._lag_over(1.0)

    @property
    def size(self) -> int:
        """Bytes of events held."""
        if not self._entries:
            return 0
        first = self._entries[0]
        return self._appended_bytes - (first.end - len(first.line))

    def compact(self) -> int:
        """Drop every event but the last (the `end` of a finished run); return the bytes freed."""
        before = self.size
        while len(self._entries) > 1:
            self._entries.popleft()
        return before - self.size

    def append(self, event: AnyEvent | type[EndEvent], **fields: Any) -> None:
        """Add an event now, whatever the lag (shell callbacks cannot wait; `end` never does)."""
        if self.ended:
            return
        seq = self.last_seq + 1
        model = event(seq=seq, execution_id=self.execution_id, **fields)
        line = model.model_dump_json().encode() + b"\n"
        self._appended_bytes += len(line)
        self._entries.append(_Entry(seq, self._appended_bytes, line))
        self.last_seq = seq
        self.ended = event is EndEvent
        self._trim()
        self._appended.notify()

    async def put(self, event: AnyEvent, **fields: Any) -> None:
        await self.wait_room()
        self.append(event, **fields)

    async def wait_room(self) -> None:
        """Return at once unless full; then wait until the slowest follower caught up enough.

        A follower that makes no progress for `stall` seconds is cut loose.
        """
        if not self.full:
            return
        loop = asyncio.get_running_loop()
        slowest, since = self._slowest(), loop.time()
        while self._lag_over(_RESUME_SHARE):
            await self._progress.wait(min(_POLL, self._bounds.stall))
            if self._slowest() != slowest:
                slowest, since = self._slowest(), loop.time()
            elif loop.time() - since >= self._bounds.stall:
                self._evict(slowest)

    def follow(self, after: int) -> AsyncGenerator[bytes, None]:
        """Lines with seq > `after`, live until `end`; `EventsGoneError` if some were dropped."""
        first = self._entries[0].seq if self._entries else self.last_seq + 1
        if after + 1 < first:
            details = {"execution_id": self.execution_id, "after": after, "first_seq": first}
            raise EventsGoneError("events after this seq were dropped from the log", details)
        cursor = _Cursor(after)
        self._cursors.add(cursor)
        return self._stream(cursor)

    async def _stream(self, cursor: _Cursor) -> AsyncGenerator[bytes, None]:
        try:
            while not cursor.evicted:
                entries = self._after(cursor.seq)
                if entries is None:
                    return
                for entry in entries:
                    yield entry.line
                    cursor.seq = entry.seq
                    self._progress.notify()
                if self.ended and cursor.seq >= self.last_seq:
                    return
                if not entries:
                    await self._appended.wait()
        finally:
            self._cursors.discard(cursor)
            self._progress.notify()

    def _after(self, seq: int) -> list[_Entry] | None:
        """Entries after `seq`, or None when some of them were dropped."""
        count = self.last_seq - seq
        if count > len(self._entries):
            return None
        # From the right: a follower that keeps up only wants the last few.
        return list(islice(reversed(self._entries), max(count, 0)))[::-1]

    def _slowest(self) -> int | None:
        return min((cursor.seq for cursor in self._cursors), default=None)

    def _lag_over(self, share: float) -> bool:
        slowest = self._slowest()
        if slowest is None or slowest >= self.last_seq:
            return False
        unread_bytes = self._appended_bytes - self._end_of(slowest)
        unread_events = self.last_seq - slowest
        bounds = self._bounds
        return unread_bytes > bounds.max_bytes * share or unread_events > bounds.max_events * share

    def _end_of(self, seq: int) -> int:
        first = self._entries[0]
        if seq < first.seq:
            return first.end - len(first.line)
        return self._entries[seq - first.seq].end

    def _trim(self) -> None:
        """Drop the oldest events beyond the bounds, but none a follower has still to read."""
        slowest = self._slowest()
        while len(self._entries) > 1 and self._over_bounds():
            if slowest is not None and self._entries[0].seq > slowest:
                return
            self._entries.popleft()

    def _over_bounds(self) -> bool:
        return self.size > self._bounds.max_bytes or len(self._entries) > self._bounds.max_events

    def _evict(self, seq: int | None) -> None:
        for cursor in list(self._cursors):
            if cursor.seq == seq:
                cursor.evicted = True
                self._cursors.discard(cursor)
        self._trim()
        self._appended.notify()
