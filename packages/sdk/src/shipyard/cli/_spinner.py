"""A spinner on stderr while a sandbox's compute starts: only when stderr is a terminal, so
piped output and `--json` stay exactly what they were."""

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console

from shipyard_protocol.api import Sandbox, SandboxStatus

Stop = Callable[[], None]


@contextmanager
def while_starting(sandbox: Sandbox, shown: bool = True) -> Iterator[Stop]:
    """Spin "starting sandbox-…" until the block ends or it calls the `stop` it is given (at
    the first output). Nothing is drawn unless `shown`, stderr is a terminal and the sandbox is
    not ready yet (idle: its first call starts it)."""
    if not (shown and sys.stderr.isatty()) or sandbox.status == SandboxStatus.READY:
        yield lambda: None
        return
    status = Console(stderr=True).status(f"starting {sandbox.id} …")
    status.start()
    try:
        yield status.stop
    finally:
        status.stop()
