"""`metrics.listen`: /metrics on a listener of its own, without a token (the network guards it).

A small WSGI server on a thread: a scrape asks the event loop to refresh the database gauges,
then reads the registry, so it never holds the loop for longer than that refresh.
"""

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIEnvironment

from prometheus_client import CONTENT_TYPE_LATEST

from bay.metrics import Metrics

REFRESH_TIMEOUT_S = 10.0
Refresh = Callable[[], Coroutine[Any, Any, None]]


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        """Scrapes are not worth a log line each."""


class MetricsServer:
    def __init__(self, listen: str, metrics: Metrics, refresh: Refresh) -> None:
        host, port = listen.rsplit(":", 1)
        self._address = (host, int(port))
        self._metrics = metrics
        self._refresh = refresh
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: WSGIServer | None = None

    def start(self) -> None:
        """Bind now (a taken port fails Bay's start) and serve on a daemon thread."""
        self._loop = asyncio.get_running_loop()
        self._server = make_server(*self._address, self._app, handler_class=_Quiet)
        threading.Thread(target=self._server.serve_forever, name="bay-metrics", daemon=True).start()

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await asyncio.to_thread(server.shutdown)
            server.server_close()

    def _app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics" or self._loop is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"only /metrics is served here\n"]
        done = asyncio.run_coroutine_threadsafe(self._refresh(), self._loop)
        done.result(timeout=REFRESH_TIMEOUT_S)
        body = self._metrics.exposition()
        headers = [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(body)))]
        start_response("200 OK", headers)
        return [body]
