"""Sandbox ports: relay HTTP, WebSocket and raw TCP to a server the sandbox runs, through
its Ship, and sign links that open one port without an API key."""

from collections.abc import AsyncIterable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx

from bay.db.models import Sandbox
from bay.errors import ConflictError, InvalidRequestError, ShipError, ShipTimeoutError
from bay.services.clock import Clock
from bay.services.port_headers import token_cookie
from bay.services.port_links import Grant, PortLinks, expiry
from bay.services.sessions import SessionService
from bay.ship_client import ClientConnection, ShipCallError, ShipClient, ShipTimedOutError
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


class PortService:
    def __init__(
        self, sessions: SessionService, ship: ShipClient, links: PortLinks, clock: Clock
    ) -> None:
        self._sessions = sessions
        self._ship = ship
        self._links = links
        self._clock = clock

    async def request(
        self,
        sandbox: Sandbox,
        port: int,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: AsyncIterable[bytes] | None,
    ) -> httpx.Response:
        """The answer of the server on `port` (body unread); `target` is path and query."""
        endpoint = await self._endpoint(sandbox, port)
        with _mapped(sandbox, port):
            return await self._ship.port_request(
                endpoint, method, f"/ports/{port}{target}", headers, body
            )

    async def websocket(
        self, sandbox: Sandbox, port: int, target: str, subprotocols: list[str]
    ) -> ClientConnection:
        endpoint = await self._endpoint(sandbox, port)
        with _mapped(sandbox, port):
            return await self._ship.port_websocket(endpoint, f"/ports/{port}{target}", subprotocols)

    async def tunnel(self, sandbox: Sandbox, port: int) -> ClientConnection:
        endpoint = await self._endpoint(sandbox, port)
        with _mapped(sandbox, port):
            return await self._ship.tunnel(endpoint, port)

    def link(
        self, owner: str, sandbox: Sandbox, port: int, request: PortUrlCreate, base_url: str
    ) -> PortUrl:
        expires_at = expiry(self._clock(), request.expires_in)
        token = self._links.sign(owner, sandbox.id, port, expires_at)
        path = f"v1/sandboxes/{sandbox.id}/ports/{port}/"
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

    async def _endpoint(self, sandbox: Sandbox, port: int) -> str:
        """Ship's endpoint, renewing the idle lease: a proxied request is activity. A stopped
        sandbox is not started: no server of the user's would be listening in a new session."""
        ready = await self._sessions.touch_running(sandbox.id)
        if ready is None:
            raise ConflictError(
                f"Sandbox {sandbox.id} is not running, so nothing listens on port {port}; "
                "start your server in it (POST …/processes) first",
                {"sandbox_id": sandbox.id, "port": port},
            )
        if urlsplit(ready.endpoint).port == port and ready.endpoint.startswith("http"):
            raise InvalidRequestError(f"port {port} is the sandbox runtime's own", {"port": port})
        return ready.endpoint


@contextmanager
def _mapped(sandbox: Sandbox, port: int) -> Iterator[None]:
    """Ship's refusals, in terms of the port: nothing listening is 502 naming it."""
    try:
        yield
    except ShipTimedOutError as exc:
        raise ShipTimeoutError(exc.message) from exc
    except ShipCallError as exc:
        if exc.code == ErrorCode.VALIDATION_ERROR:
            raise InvalidRequestError(exc.message, {"port": port}) from exc
        details = {"sandbox_id": sandbox.id, "port": port}
        if exc.status == 502 and exc.code == ErrorCode.SHIP_ERROR:
            message = f"nothing answers on port {port} in sandbox {sandbox.id}: {exc.message}"
            raise ShipError(message, details) from exc
        raise ShipError(f"port {port} could not be reached: {exc.message}", details) from exc
