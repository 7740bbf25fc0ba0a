"""A capped output buffer: keeps the head and the tail of a stream and counts what it dropped."""

from collections import deque


class OutputBuffer:
    """Holds at most `limit` bytes: the first half written and the last half written."""

    def __init__(self, limit: int) -> None:
        self._head_limit = limit // 2
        self._tail_limit = limit - self._head_limit
        self._head = bytearray()
        self._tail: deque[bytes] = deque()
        self._tail_size = 0
        self.dropped = 0

    @property
    def truncated(self) -> bool:
        return self.dropped > 0

    def write(self, data: bytes) -> None:
        room = self._head_limit - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if data:
            self._tail.append(data)
            self._tail_size += len(data)
            self._trim_tail()

    def skip(self, dropped: int) -> None:
        """`dropped` bytes are missing here (dropped where they were made): the head is closed,
        and what the tail held so far counts as dropped too, so the tail stays the stream's end."""
        self._head_limit = len(self._head)
        self.dropped += dropped + self._tail_size
        self._tail.clear()
        self._tail_size = 0

    def write_text(self, text: str) -> None:
        self.write(text.encode("utf-8", errors="replace"))

    def render(self) -> str:
        tail = b"".join(self._tail)
        if not self.truncated:
            return (bytes(self._head) + tail).decode("utf-8", errors="replace")
        head = self._head.decode("utf-8", errors="replace")
        return head + marker(self.dropped) + tail.decode("utf-8", errors="replace")

    def _trim_tail(self) -> None:
        excess = self._tail_size - self._tail_limit
        while excess > 0:
            first = self._tail[0]
            cut = min(len(first), excess)
            if cut == len(first):
                self._tail.popleft()
            else:
                self._tail[0] = first[cut:]
            self._tail_size -= cut
            self.dropped += cut
            excess -= cut


def marker(dropped: int) -> str:
    """What stands where output was dropped."""
    return f"\n...[truncated {dropped} bytes]...\n"
