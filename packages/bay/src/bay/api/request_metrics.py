"""Each HTTP request counted, timed and logged once, by route template (never by its raw path)."""

import structlog
from starlette.types import Scope

from bay.metrics import Metrics

log = structlog.get_logger("bay.access")

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "<unmatched>"


class RequestRecord:
    """Called by RequestLayer as a request ends, so its line carries the request id; a crash
    before the answer started counts as 500, one after it with the status already sent."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def __call__(self, scope: Scope, status: int, seconds: float) -> None:
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
