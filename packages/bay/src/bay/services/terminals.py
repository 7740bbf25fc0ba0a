"""Terminals: a WebSocket to a PTY in the sandbox; Bay authenticates and relays."""

from bay.errors import InvalidRequestError
from bay.services.capabilities import SandboxRef
from bay.services.sessions import SessionService
from bay.ship_client import ClientConnection

MAX_TERMINAL_SIZE = 1000


def terminal_size(cols: str, rows: str) -> tuple[int, int]:
    """`(cols, rows)` from the query, or 400 naming the one that is not 1..1000."""
    size = []
    for name, value in (("cols", cols), ("rows", rows)):
        number = int(value) if value.isascii() and value.isdigit() and len(value) < 8 else 0
        if not 1 <= number <= MAX_TERMINAL_SIZE:
            raise InvalidRequestError(
                f"{name} must be a whole number from 1 to {MAX_TERMINAL_SIZE}",
                {"field": name},
            )
        size.append(number)
    return size[0], size[1]


class TerminalService:
    def __init__(self, sessions: SessionService) -> None:
        self._sessions = sessions

    async def open(self, sandbox: SandboxRef, cols: int, rows: int) -> ClientConnection:
        """Start the session if needed and connect to its terminal; an open one is activity."""
        ready = await self._sessions.ensure_running(sandbox.id)
        return await ready.ship.terminal(cols, rows)
