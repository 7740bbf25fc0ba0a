"""The proxy's counters on disk: one small file rewritten in place, so the proxy can keep
it open after it drops its privileges, and read by Bay for the sandbox's detail."""

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

_WIDTH = 256  # every write is this long, padded, so a reader never sees a shorter tail


@dataclass
class Traffic:
    """What the sandbox sent (`bytes_out`) and received (`bytes_in`) through the proxy."""

    bytes_in: int = 0
    bytes_out: int = 0
    connections: int = 0
    refused: int = 0


class StatsFile:
    def __init__(self, fd: int) -> None:
        self._fd = fd

    @classmethod
    def create(cls, path: Path) -> "StatsFile":
        flags = os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
        stats = cls(os.open(path, flags, 0o644))
        stats.write(Traffic())
        return stats

    def write(self, traffic: Traffic) -> None:
        os.pwrite(self._fd, json.dumps(asdict(traffic)).ljust(_WIDTH).encode(), 0)


def read(path: Path) -> Traffic | None:
    """The counters, or None when the file is missing or unreadable."""
    try:
        return Traffic(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
