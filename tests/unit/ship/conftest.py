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
import pytest_asyncio
import uvicorn

from ship.app import create_app
from ship.bay_lease import BayLease
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

    def start(**overrides: Any) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        lease = overrides.pop("lease", None)
        return _in_process(ShipConfig(**{**_config(workspace), **overrides}), lease)

    return start


@pytest.fixture
async def client(start_ship: StartShip) -> AsyncIterator[httpx.AsyncClient]:
    async with start_ship() as client:
        yield client


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_client(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[httpx.AsyncClient]:
    """One Ship, and so one kernel, for the tests of a module that read only what their own
    code prints or shows: each kernel start costs most of a second of CPU. Such a test runs in
    the module's event loop (`pytest.mark.asyncio(loop_scope="module")`) and never reads
    what another left in the kernel: variables, execution count, generation, workspace."""
    workspace = tmp_path_factory.mktemp("workspace")
    async with _in_process(ShipConfig(**_config(workspace))) as client:
        yield client


def _config(workspace: Path) -> dict[str, Any]:
    return {"workspace": workspace, "output_limit": 64 * 1024}


@asynccontextmanager
async def _in_process(
    config: ShipConfig, lease: BayLease | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(config, lease=lease)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://ship", timeout=60) as client,
    ):
        yield client


@pytest.fixture
def serve_ship(workspace: Path) -> ServeShip:
    """Serves the app with uvicorn in a thread (real sockets: streams are not buffered whole).

    Yields the base URL, `http://127.0.0.1:<port>`.
    """

    @asynccontextmanager
    async def serve(**overrides: Any) -> AsyncIterator[str]:
        config = ShipConfig(**{**_config(workspace), **overrides})
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
