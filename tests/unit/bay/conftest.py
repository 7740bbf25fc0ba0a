"""Bay's app in-process with the fake driver (Ship in-process too) and a temp SQLite."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from bay.app import create_app
from bay.config import ProfileSettings, Settings
from bay.drivers.fake import FakeDriver

ADMIN_KEY = "sk-test-admin"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    profiles = [
        ProfileSettings(id="python-default"),
        ProfileSettings(id="python-only", capabilities=["python"]),
    ]
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "driver": {"type": "fake"},
        "api_key": ADMIN_KEY,
        "profiles": profiles,
    }
    return Settings(**(values | overrides))


class Bay:
    """A running app, its HTTP client and its fake driver."""

    def __init__(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client

    @property
    def driver(self) -> FakeDriver:
        return self.app.state.driver  # type: ignore[no-any-return]

    async def sandbox(self, **body: Any) -> str:
        response = await self.client.post("/v1/sandboxes", json=body, headers=AUTH)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])


@asynccontextmanager
async def start_bay(settings: Settings) -> AsyncIterator[Bay]:
    drivers: list[FakeDriver] = []

    def factory(s: Settings) -> FakeDriver:
        drivers.append(FakeDriver(s.data_dir))
        return drivers[-1]

    app = create_app(settings, driver_factory=factory)
    async with app.router.lifespan_context(app) as state:
        app.state.driver = drivers[0]

        async def with_state(scope: Any, receive: Any, send: Any) -> None:
            # What uvicorn does for lifespan state; httpx's ASGITransport does not.
            scope["state"] = dict(state or {})
            await app(scope, receive, send)

        transport = httpx.ASGITransport(app=with_state)
        async with httpx.AsyncClient(transport=transport, base_url="http://bay") as client:
            yield Bay(app, client)


@pytest.fixture
async def bay(tmp_path: Path) -> AsyncIterator[Bay]:
    async with start_bay(make_settings(tmp_path)) as running:
        yield running
