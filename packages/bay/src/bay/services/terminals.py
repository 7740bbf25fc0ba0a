"""Terminals: a WebSocket to a PTY in the sandbox; Bay authenticates and relays."""

from bay.db.models import Sandbox
from bay.services.sessions import SessionService
from bay.services.ship_errors import mapped_ship_errors
from bay.ship_client import ClientConnection, ShipClient


class TerminalService:
    def __init__(self, sessions: SessionService, ship: ShipClient) -> None:
        self._sessions = sessions
        self._ship = ship

    async def open(self, sandbox: Sandbox, cols: int, rows: int) -> ClientConnection:
        """Start the session if needed and connect to its terminal; an open one is activity."""
        ready = await self._sessions.ensure_running(sandbox.id)
        with mapped_ship_errors():
            return await self._ship.terminal(ready.endpoint, cols, rows)
