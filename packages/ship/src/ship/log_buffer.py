"""Ship's own log records, kept in memory until Bay drains them into its log.

Ship's stdout and stderr lead nowhere once it is ready (the start pipe closes), and a log file
the sandbox can write to could fill a disk. A bounded buffer that Bay reads survives a Bay
restart (the lines wait for the next Bay) and costs at most `limit` lines of `line_chars`.
"""

import logging
from collections import deque

from shipyard_protocol.ship import ShipLogLine, ShipLogs


class LogBuffer(logging.Handler):
    def __init__(self, limit: int = 500, line_chars: int = 2000) -> None:
        super().__init__(logging.INFO)
        self._lines: deque[ShipLogLine] = deque(maxlen=limit)
        self._line_chars = line_chars
        self._dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                message += f": {record.exc_info[1]!r}"
        except Exception:  # noqa: BLE001 - a bad format string must not break logging
            message = str(record.msg)
        if len(self._lines) == self._lines.maxlen:
            self._dropped += 1
        line = ShipLogLine(
            time=record.created,
            level=record.levelname.lower(),
            logger=record.name,
            message=message[: self._line_chars],
        )
        self._lines.append(line)

    def drain(self) -> ShipLogs:
        lines, dropped = list(self._lines), self._dropped
        self._lines.clear()
        self._dropped = 0
        return ShipLogs(lines=lines, dropped=dropped)
