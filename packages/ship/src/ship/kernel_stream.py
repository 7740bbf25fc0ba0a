"""The kernel's stdout and stderr, capped where the output is made: beyond the limit it is
dropped as it comes, so a flood never fills the kernel, the iopub queues or Ship.

Runs inside the kernel process. Per execution and stream, the first half of the limit passes
at once, the middle is dropped, and the last half is held until the execution ends; then a
stream message with `dropped` (the count, which Ship adds to its own) and the usual marker
as its text comes before the tail.
"""

import threading
from collections import deque
from typing import Any

from ipykernel.iostream import OutStream

from ship.output import marker


class Cap:
    """One execution's stream, by UTF-8 bytes: what passes now, what is dropped, the tail."""

    def __init__(self, limit: int) -> None:
        self._limited = limit > 0
        self._head_room = limit // 2
        self._tail_limit = limit - limit // 2
        self._tail: deque[str] = deque()
        self._tail_size = 0
        self._cutting = False
        self.dropped = 0

    def take(self, text: str) -> str:
        """The part of `text` that passes now; the rest is held or dropped."""
        if not self._limited:
            return text
        if self._cutting:
            self._hold(text)
            return ""
        size = _size(text)
        if size <= self._head_room:
            self._head_room -= size
            return text
        head = _prefix(text, self._head_room)
        self._cutting = True
        self._hold(text[len(head) :])
        return head

    def close(self) -> tuple[int, str]:
        """What was dropped and the tail to write after saying so (nothing when nothing was
        dropped); whatever comes later, until the next execution, is dropped."""
        if not self._cutting:
            return 0, ""
        tail, dropped = "".join(self._tail), self.dropped
        self._tail.clear()
        self._tail_size = self._tail_limit = 0
        return dropped, tail

    def _hold(self, text: str) -> None:
        self._tail.append(text)
        self._tail_size += _size(text)
        while self._tail_size > self._tail_limit:
            first = self._tail.popleft()
            first_size = _size(first)
            kept = _suffix(first, max(first_size - (self._tail_size - self._tail_limit), 0))
            if kept:
                self._tail.appendleft(kept)
            cut = first_size - _size(kept)
            self._tail_size -= cut
            self.dropped += cut


class CappedOutStream(OutStream):
    """ipykernel's stream with a `Cap` per execution (none until `cap_at`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        self._cap_lock = threading.Lock()  # writes come from user threads and the fd watcher
        self._limit = 0
        self._cap = Cap(0)

    def cap_at(self, limit: int) -> None:
        with self._cap_lock:
            self._limit = limit
            self._cap = Cap(limit)

    def begin(self) -> None:
        """An execution starts: its output gets the whole limit."""
        with self._cap_lock:
            self._cap = Cap(self._limit)

    def end(self) -> None:
        """An execution ended: say what was dropped, then write the tail."""
        with self._cap_lock:
            dropped, tail = self._cap.close()
        if not dropped:
            return
        self.flush()  # type: ignore[no-untyped-call]  # the head goes first
        content = {"name": self.name, "text": marker(dropped), "dropped": dropped}
        self.session.send(self.pub_thread, "stream", content, self.parent_header, self.topic)
        super().write(tail)

    def write(self, string: str) -> int:
        given: object = string
        if not isinstance(given, str):
            super().write(given)  # type: ignore[arg-type]  # raises its TypeError
        with self._cap_lock:
            passed = self._cap.take(string)
        if passed:
            super().write(passed)
        return len(string)


class _NoOutputs(dict[int, list[Any]]):
    """Output history that keeps nothing: IPython 9 keeps every write, display and result of
    every execution (for `%history -o`) for the kernel's life, a flood included; Ship already
    returned them."""

    def __missing__(self, key: int) -> list[Any]:
        return []  # appended to, then gone


def install(shell: Any, streams: tuple[object, ...], limit: int) -> None:
    """Cap each of `streams` that is a `CappedOutStream` at `limit`, per execution, and keep
    no output history."""
    shell.history_manager.outputs = _NoOutputs()
    capped = [stream for stream in streams if isinstance(stream, CappedOutStream)]
    for stream in capped:
        stream.cap_at(limit)
        shell.events.register("pre_execute", stream.begin)
        shell.events.register("post_execute", stream.end)


def _size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _prefix(text: str, room: int) -> str:
    """The longest start of `text` of at most `room` bytes."""
    cut = text[:room]
    while (over := _size(cut) - room) > 0:
        cut = cut[: len(cut) - max(over // 4, 1)]
    return cut


def _suffix(text: str, room: int) -> str:
    """The longest end of `text` of at most `room` bytes."""
    cut = text[max(len(text) - room, 0) :] if room else ""
    while (over := _size(cut) - room) > 0:
        cut = cut[max(over // 4, 1) :]
    return cut
