"""Request ids, the access log and metrics, authentication before any body is read, and a JSON
500 for the unexpected."""

import logging
import re
import time
import uuid

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.contextvars import bind_contextvars, clear_contextvars

from bay.api.handlers import bay_error_response
from bay.api.request_metrics import RequestRecord
from bay.api.state import State
from bay.errors import BayError, PayloadTooLargeError, UnauthorizedError
from bay.metrics import Metrics
from bay.services.keys import KeyService, Principal, hash_key
from bay.services.port_headers import port_token

log = logging.getLogger(__name__)


class RequestLayer:
    """Reads `X-Request-Id` or makes one, echoes it, turns crashes into JSON bodies, and
    counts, times and logs each request once (one layer: every request crosses it)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.record = RequestRecord(metrics)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            clear_contextvars()
            bind_contextvars(request_id=str(uuid.uuid4()), **_about(scope.get("path", "")))
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming(scope) or str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id
        clear_contextvars()  # each request is its own task, but its context is a copy
        bind_contextvars(request_id=request_id, **_about(scope.get("path", "")))
        began = time.monotonic()
        status = 0  # no answer started yet; a crash before one is answered 500 below

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", []), _header(request_id)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            if status:
                raise
            crash = BayError("Internal server error")
            await bay_error_response(crash, request_id)(scope, receive, send_with_id)
        finally:
            self.record(scope, status or 500, time.monotonic() - began)


PUBLIC = ("/v1/profiles",)
# A sandbox port's path: its requests may carry a port link instead of a key. The route that
# signs links is not one of them: it wants a key, and a small JSON body.
PORT_PATH = re.compile(r"/v1/sandboxes/[^/]+/ports/[^/]+(/|$)")
LINK_PATH = re.compile(r"/v1/sandboxes/[^/]+/ports/[^/]+/url")


class AuthGate:
    """Authenticates /v1 requests before anything reads their body.

    FastAPI reads (and spools) a body before it resolves dependencies, so without this an
    anonymous client could make Bay store a huge upload only to be told 401 afterwards.
    The principal it finds is handed to the route's dependency, which does not ask again.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/v1/") or path.startswith(PUBLIC):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        if _relayed(scope) and _carries_port_link(scope):
            await self.app(scope, receive, send)  # the route checks the link
            return
        try:
            state["principal"] = await authenticate(state["bay"], _headers(scope))
        except BayError as exc:
            await bay_error_response(exc, state.get("request_id"))(scope, receive, send)
            return
        bind_contextvars(owner=state["principal"].owner)
        await self.app(scope, receive, send)


class BodyLimit:
    """Refuses request bodies past `limits.max_body_bytes` with 413 before holding them.

    A declared Content-Length past the cap is answered at once, unread; a chunked body is
    counted as it arrives and cut at the cap. Uploads and sandbox ports are exempt: they
    stream to the sandbox, whose cargo quota and servers bound them.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.endswith(UPLOAD) or _relayed(scope):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        cap = state["bay"]["settings"].limits.max_body_bytes
        declared = _headers(scope).get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            refusal = bay_error_response(_too_large(cap), state.get("request_id"))
            await refusal(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > cap:
                raise HTTPException(413, _too_large(cap).message)
            return message

        await self.app(scope, counted, send)


UPLOAD = "/filesystem/upload"


def _too_large(cap: int) -> PayloadTooLargeError:
    message = f"request body is larger than {cap} bytes (limits.max_body_bytes)"
    return PayloadTooLargeError(message, {"limit_bytes": cap})


async def authenticate(bay: State, headers: dict[str, str]) -> Principal:
    """The caller of a request: a key's owner, or in anonymous mode the X-Owner header."""
    authorization = headers.get("authorization")
    if authorization is not None and authorization.startswith("Bearer "):
        token = authorization.removeprefix("Bearer ")
        recent, key_hash = bay["recent_keys"], hash_key(token)
        principal = recent.recall(key_hash)
        if principal is not None:
            return principal
        generation = recent.generation
        async with bay["sessionmaker"]() as db:
            principal = await KeyService(db, bay["clock"]).authenticate(token)
        recent.remember(key_hash, principal, generation)
        return principal
    if bay["settings"].security.allow_anonymous:
        return Principal(owner=headers.get("x-owner") or "default")
    raise UnauthorizedError("Authentication required")


def _relayed(scope: Scope) -> bool:
    """A request Bay relays to a sandbox port."""
    path = scope.get("path", "")
    link = scope.get("method") == "POST" and LINK_PATH.fullmatch(path)
    return bool(PORT_PATH.match(path)) and not link


def _carries_port_link(scope: Scope) -> bool:
    query = scope.get("query_string", b"").decode("latin-1")
    return port_token(query, _headers(scope).get("cookie")) is not None


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}


SANDBOX_PATH = re.compile(r"/v1/sandboxes/([A-Za-z0-9_-]{1,64})(/|$)")


def _about(path: str) -> dict[str, str]:
    """The sandbox a request's path names, for every log line of the request."""
    found = SANDBOX_PATH.match(path)
    return {"sandbox_id": found.group(1)} if found else {}


def _incoming(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id" and value:
            return str(value.decode("latin-1"))[:128]
    return None


def _header(request_id: str) -> tuple[bytes, bytes]:
    return (b"x-request-id", request_id.encode("latin-1"))
