"""Fixtures: the real Ship app in-process over httpx, or served by uvicorn, on a temp workspace."""

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from ship.app import create_app
from ship.config import ShipConfig

StartShip = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
ServeShip = Callable[..., AbstractAsyncContextManager[str]]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    return path


@pytest.fixture
def start_ship(workspace: Path) -> StartShip:
    """Starts the app (lifespan included) with config overrides and yields a client for it."""

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        lease = overrides.pop("lease", None)
        config = ShipConfig(**{"workspace": workspace, "output_limit": 64 * 1024, **overrides})
        app = create_app(config, lease=lease)
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://ship", timeout=60) as client,
        ):
            yield client

    return start


@pytest.fixture
async def client(start_ship: StartShip) -> AsyncIterator[httpx.AsyncClient]:
    async with start_ship() as client:
        yield client


@pytest.fixture
def serve_ship(workspace: Path) -> ServeShip:
    """Serves the app with uvicorn in a thread (real sockets: streams are not buffered whole).

    Yields the base URL, `http://127.0.0.1:<port>`.
    """

    @asynccontextmanager
    async def serve(**overrides: Any) -> AsyncIterator[str]:
        config = ShipConfig(**{"workspace": workspace, "output_limit": 64 * 1024, **overrides})
        server = uvicorn.Server(
            uvicorn.Config(create_app(config), log_config=None, timeout_graceful_shutdown=5)
        )
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
        thread.start()
        try:
            while not server.started and thread.is_alive():
                await asyncio.sleep(0.02)
            yield f"http://127.0.0.1:{sock.getsockname()[1]}"
        finally:
            server.should_exit = True
            await asyncio.to_thread(thread.join, 30)
            sock.close()

    return serve


@pytest.fixture
async def ship_url(serve_ship: ServeShip) -> AsyncIterator[str]:
    async with serve_ship() as url:
        yield url
