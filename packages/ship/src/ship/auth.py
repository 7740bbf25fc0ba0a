"""Bay's bearer token on a Ship that listens on TCP: every request but /health must carry it."""

import hashlib
import hmac

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from shipyard_protocol.errors import ErrorCode, error_body, status_of

# Liveness stays open for probes; it tells only Ship's version and kernel generation.
OPEN_PATHS = frozenset({"/health"})
_POLICY_VIOLATION = 1008


class TokenGate:
    """Refuse a request whose `Authorization: Bearer <token>` does not hash to `digest`.

    Ship holds only the token's SHA-256, so nothing in the container lets anyone in. The
    comparison is constant-time. A refused WebSocket handshake is closed (HTTP 403).
    """

    def __init__(self, app: ASGIApp, digest: str) -> None:
        self.app = app
        self._digest = bytes.fromhex(digest)
        if len(self._digest) != hashlib.sha256().digest_size:
            raise ValueError("the token digest is not a SHA-256")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket") or self._allows(scope):
            await self.app(scope, receive, send)
        elif kind == "websocket":
            await WebSocketClose(code=_POLICY_VIOLATION)(scope, receive, send)
        else:
            await _refusal()(scope, receive, send)

    def _allows(self, scope: Scope) -> bool:
        return scope["path"] in OPEN_PATHS or carries_token(scope, self._digest)


def carries_token(scope: Scope, digest: bytes) -> bool:
    """Whether the request's bearer token hashes to `digest` (compared in constant time)."""
    token = bearer_token(scope["headers"])
    if token is None:
        return False
    return hmac.compare_digest(hashlib.sha256(token).digest(), digest)


def bearer_token(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    for name, value in headers:
        if name.lower() == b"authorization":
            scheme, _, token = value.partition(b" ")
            return token.strip() if scheme.lower() == b"bearer" else None
    return None


def _refusal() -> JSONResponse:
    body = error_body(ErrorCode.UNAUTHORIZED, "missing or wrong bearer token")
    status = status_of(ErrorCode.UNAUTHORIZED)
    return JSONResponse(body, status_code=status, headers={"WWW-Authenticate": "Bearer"})
