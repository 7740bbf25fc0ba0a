"""Bay's Prometheus instruments: one registry per app, so several apps in a process never collide.

Every label value comes from a bounded set: route templates, HTTP status codes, configured
profile ids, the driver type, GC task names, browser learning outcomes and actions, exception
class names. Never a sandbox id.
"""

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Seconds: an exec is milliseconds warm and minutes at worst; a session start is about a second.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class Metrics:
    """Built once in `create_app`; services record into it, `/metrics` reads `exposition()`."""

    def __init__(self, driver: str) -> None:
        self.driver = driver
        self.registry = CollectorRegistry()
        r = self.registry
        self.http_requests = Counter(
            "bay_http_requests", "HTTP requests answered", ["method", "route", "status"], registry=r
        )
        self.http_latency = Histogram(
            "bay_http_request_duration_seconds",
            "HTTP request latency, to the end of the response body",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.exec_latency = Histogram(
            "bay_exec_duration_seconds",
            "Executions run in sandboxes, session start included",
            ["kind", "driver"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.session_starts = Counter(
            "bay_session_starts", "Sessions started", ["driver"], registry=r
        )
        self.session_start_failures = Counter(
            "bay_session_start_failures", "Sessions that failed to start", ["driver"], registry=r
        )
        self.session_start_latency = Histogram(
            "bay_session_start_duration_seconds",
            "Time from a session's start to Ship answering",
            ["driver"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.sandboxes = Gauge(
            "bay_sandboxes", "Sandboxes (not deleted) by status and profile", ["status", "profile"],
            registry=r,
        )  # fmt: skip
        self.warm_pool_available = Gauge(
            "bay_warm_pool_available", "Warm sandboxes ready to claim", ["profile"], registry=r
        )
        self.warm_pool_warming = Gauge(
            "bay_warm_pool_warming", "Warm sandboxes still starting", ["profile"], registry=r
        )
        self.warm_pool_hits = Counter(
            "bay_warm_pool_hits", "Creates that claimed a warm sandbox", ["profile"], registry=r
        )
        self.warm_pool_misses = Counter(
            "bay_warm_pool_misses", "Creates that found the pool empty", ["profile"], registry=r
        )
        self.gc_runs = Counter("bay_gc_runs", "GC cycles this Bay ran", registry=r)
        self.gc_reclaimed = Counter(
            "bay_gc_reclaimed", "Items GC cleaned up, by task", ["task"], registry=r
        )
        self.browser_learning_runs = Counter(
            "bay_browser_learning_runs", "Browser learning passes this Bay ran", registry=r
        )
        self.browser_learning_executions = Counter(
            "bay_browser_learning_executions",
            "Browser executions learned from, by outcome (processed, skipped, error)",
            ["outcome"],
            registry=r,
        )
        self.browser_learning_candidates = Counter(
            "bay_browser_learning_candidates", "Skill candidates browser learning made", registry=r
        )
        self.browser_learning_releases = Counter(
            "bay_browser_learning_releases",
            "Releases browser learning made, by action (canary, stable, rollback)",
            ["action"],
            registry=r,
        )
        self.db_pool_in_use = Gauge(
            "bay_db_pool_connections_in_use", "Database connections checked out", registry=r
        )
        self.ship_call_errors = Counter(
            "bay_ship_call_errors", "Calls to Ship that failed, by error", ["error"], registry=r
        )

    def watch_db_pool(self, pool: Any) -> None:
        """Read the pool's checked-out count at each scrape (pools without one report 0)."""
        checkedout = getattr(pool, "checkedout", None)
        self.db_pool_in_use.set_function(lambda: float(checkedout()) if checkedout else 0.0)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
