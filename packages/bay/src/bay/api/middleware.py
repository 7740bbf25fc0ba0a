"""Request ids on every request and response, and a JSON 500 for anything unexpected."""

import logging
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shipyard_protocol.errors import ErrorBody, ErrorCode, ErrorDetail

log = logging.getLogger(__name__)


class RequestIdMiddleware:
    """Reads `X-Request-Id` or makes one, echoes it, and turns crashes into JSON bodies."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming(scope) or str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), _header(request_id)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await _send_500(send, request_id)


def _incoming(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id" and value:
            return str(value.decode("latin-1"))[:128]
    return None


def _header(request_id: str) -> tuple[bytes, bytes]:
    return (b"x-request-id", request_id.encode("latin-1"))


async def _send_500(send: Send, request_id: str) -> None:
    detail = ErrorDetail(
        code=ErrorCode.INTERNAL_ERROR, message="Internal server error", request_id=request_id
    )
    body = ErrorBody(error=detail).model_dump_json(exclude={"error": {"details"}}).encode()
    headers = [(b"content-type", b"application/json"), _header(request_id)]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": body})
