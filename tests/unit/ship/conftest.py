"""Fixtures: the real Ship app in-process over httpx, on a temporary workspace."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from ship.app import create_app
from ship.config import ShipConfig

StartShip = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


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
        config = ShipConfig(**{"workspace": workspace, "output_limit": 64 * 1024, **overrides})
        app = create_app(config)
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
