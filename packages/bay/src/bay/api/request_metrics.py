"""Each HTTP request counted, timed and logged once, by route template (never by its raw path)."""

import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bay.metrics import Metrics

log = structlog.get_logger("bay.access")

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "<unmatched>"


class RequestMetrics:
    """Inside RequestIdMiddleware, so its line carries the request id; a crash counts as 500."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self._record(scope, status, time.monotonic() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", UNMATCHED)
        method = scope["method"] if scope["method"] in METHODS else "OTHER"
        self.metrics.http_requests.labels(method, route, str(status)).inc()
        self.metrics.http_latency.labels(method, route).observe(seconds)
        log.info(
            "request",
            method=method,
            path=scope.get("path", ""),
            route=route,
            status=status,
            duration_ms=round(seconds * 1000, 1),
        )
