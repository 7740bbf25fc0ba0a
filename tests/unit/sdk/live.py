"""Bay served by uvicorn on a free local port in a thread (httpx's `serve_in_thread`)."""

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from bay.app import create_app
from bay.config import Settings
from bay.drivers.fake import FakeDriver
from tests.unit.bay.conftest import make_settings, seed_database


def _fake_driver(settings: Settings) -> FakeDriver:
    return FakeDriver(settings.data_dir)


def refuse_every_ship(data_dir: Path) -> None:
    """Every session's Ship of the Bay on `data_dir` becomes unreachable, as when its
    instance died: its socket is gone (the fake driver's server runs in Bay's thread)."""
    for path in FakeDriver.sockets(data_dir).glob("*.sock"):
        path.unlink()


@contextmanager
def serve_bay(data_dir: Path, **overrides: Any) -> Iterator[str]:
    """Run Bay (fake driver, real Ship in-process) until the block ends; yields its URL.
    `overrides` replace settings of `make_settings`."""
    settings = make_settings(data_dir, **overrides)
    seed_database(settings)
    app = create_app(settings, driver_factory=_fake_driver)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive(), "Bay did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
