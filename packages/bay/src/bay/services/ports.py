"""Sandbox ports: relay HTTP, WebSocket and raw TCP to a server the sandbox runs, through
its Ship, and sign links that open one port without an API key."""

from collections.abc import AsyncIterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import httpx

from bay.errors import ConflictError, InvalidRequestError, ShipError, ShipTimeoutError
from bay.services.clock import Clock
from bay.services.memory import Memory
from bay.services.port_headers import token_cookie
from bay.services.port_links import Grant, PortLinks, expiry
from bay.services.recent_sandboxes import Running
from bay.services.sandboxes import SandboxService
from bay.services.sessions import SessionService
from bay.ship_client import (
    ClientConnection,
    ShipCallError,
    ShipClient,
    ShipTimedOutError,
    ShipUnreachableError,
)
from shipyard_protocol.api import PORT_TOKEN_PARAM, PortUrl, PortUrlCreate
from shipyard_protocol.errors import ErrorCode


def port_number(text: str) -> int:
    """The port in a path, or 400 when it is not 1..65535."""
    number = int(text) if text.isascii() and text.isdigit() and len(text) < 6 else 0
    if not 1 <= number <= 65535:
        raise InvalidRequestError(
            f"port must be a whole number from 1 to 65535, not {text[:20]!r}", {"port": text[:20]}
        )
    return number


@dataclass(frozen=True)
class Relay:
    """A checked way to one port: the caller may use it, and the sandbox runs."""

    sandbox_id: str
    port: int
    endpoint: str


class PortService:
    def __init__(
        self,
        sandboxes: SandboxService,
        sessions: SessionService,
        ship: ShipClient,
        links: PortLinks,
        relays: Memory[Running],
        clock: Clock,
    ) -> None:
        self._sandboxes = sandboxes
        self._sessions = sessions
        self._ship = ship
        self._links = links
        self._relays = relays
        self._clock = clock

    async def open(self, owner: str, sandbox_id: str, port: int) -> Relay:
        """The way to the port: 404 for another owner's sandbox, 409 once expired or while
        stopped. Renews the idle lease (a proxied request is activity). A stopped sandbox is
        not started: no server of the user's would be listening in a new session."""
        seen = self._relays.recall(sandbox_id)
        endpoint = seen.endpoint if seen is not None and seen.owner == owner else None
        if endpoint is None:
            generation = self._relays.generation
            sandbox = await self._sandboxes.unexpired(owner, sandbox_id)
            ready = await self._sessions.touch_running(sandbox.id)
            if ready is None:
                raise ConflictError(
                    f"Sandbox {sandbox_id} is not running, so nothing listens on port {port}; "
                    "start your server in it (POST …/processes) first",
                    {"sandbox_id": sandbox_id, "port": port},
                )
            endpoint = ready.endpoint
            self._remember(sandbox_id, Running(owner, endpoint), generation, sandbox.expires_at)
        if endpoint.startswith("http") and urlsplit(endpoint).port == port:
            raise InvalidRequestError(f"port {port} is the sandbox runtime's own", {"port": port})
        return Relay(sandbox_id, port, endpoint)

    def _remember(
        self, sandbox_id: str, running: Running, since: int, expires_at: datetime | None
    ) -> None:
        left = None if expires_at is None else (expires_at - self._clock()).total_seconds()
        self._relays.remember(sandbox_id, running, since, left)

    async def request(
        self,
        relay: Relay,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: AsyncIterable[bytes] | None,
    ) -> httpx.Response:
        """The answer of the server on the port (body unread); `target` is path and query."""
        path = f"/ports/{relay.port}{target}"
        with self._mapped(relay):
            return await self._ship.port_request(relay.endpoint, method, path, headers, body)

    async def websocket(
        self, relay: Relay, target: str, subprotocols: list[str]
    ) -> ClientConnection:
        path = f"/ports/{relay.port}{target}"
        with self._mapped(relay):
            return await self._ship.port_websocket(relay.endpoint, path, subprotocols)

    async def tunnel(self, relay: Relay) -> ClientConnection:
        with self._mapped(relay):
            return await self._ship.tunnel(relay.endpoint, relay.port)

    async def link(
        self, owner: str, sandbox_id: str, port: int, request: PortUrlCreate, base_url: str
    ) -> PortUrl:
        await self._sandboxes.unexpired(owner, sandbox_id)
        expires_at = expiry(self._clock(), request.expires_in)
        token = self._links.sign(owner, sandbox_id, port, expires_at)
        path = f"v1/sandboxes/{sandbox_id}/ports/{port}/"
        url = f"{base_url.rstrip('/')}/{path}?{PORT_TOKEN_PARAM}={token}"
        return PortUrl(url=url, expires_at=expires_at.replace(tzinfo=None))

    def grant(self, token: str, sandbox_id: str, port: int) -> Grant:
        """What a link's token opens; 401 when it does not open this port, or expired."""
        return self._links.check(token, sandbox_id, port, self._clock())

    def cookie(self, token: str, sandbox_id: str, port: int, secure: bool) -> str:
        """`Set-Cookie` that carries a link's token on a browser's later requests to the port."""
        grant = self.grant(token, sandbox_id, port)
        prefix = f"/v1/sandboxes/{sandbox_id}/ports/{port}"
        return token_cookie(token, prefix, grant.expires_at, self._clock(), secure)

    @contextmanager
    def _mapped(self, relay: Relay) -> Iterator[None]:
        """Ship's refusals as Bay errors; a Ship gone unreachable is forgotten, so the next
        request checks the sandbox again (stopped by another replica: 409)."""
        with _mapped(relay):
            try:
                yield
            except ShipUnreachableError:
                self._relays.forget(relay.sandbox_id)
                raise


@contextmanager
def _mapped(relay: Relay) -> Iterator[None]:
    """Ship's refusals, in terms of the port: nothing listening is 502 naming it."""
    sandbox_id, port = relay.sandbox_id, relay.port
    try:
        yield
    except ShipTimedOutError as exc:
        raise ShipTimeoutError(exc.message) from exc
    except ShipCallError as exc:
        if exc.code == ErrorCode.VALIDATION_ERROR:
            raise InvalidRequestError(exc.message, {"port": port}) from exc
        details = {"sandbox_id": sandbox_id, "port": port}
        if exc.status == 502 and exc.code == ErrorCode.SHIP_ERROR:
            message = f"nothing answers on port {port} in sandbox {sandbox_id}: {exc.message}"
            raise ShipError(message, details) from exc
        raise ShipError(f"port {port} could not be reached: {exc.message}", details) from exc
