"""Bay's app in-process with the fake driver (Ship in-process too) and a temp SQLite (or
PostgreSQL under `pytest --database=postgres`)."""

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.script import ScriptDirectory
from fastapi import FastAPI
from sqlalchemy import update

from bay.app import create_app
from bay.config import ProfileSettings, Settings
from bay.db.engine import alembic_config, make_engine, migrate
from bay.db.models import Sandbox
from bay.drivers.fake import FakeDriver
from bay.services.clock import Clock, utcnow
from bay.services.gc import GcService
from tests import postgres

ADMIN_KEY = "sk-test-admin"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
# Set for the session by tests/unit/conftest.py: a SQLite database already migrated to head.
# Migrating an empty file was most of an in-process Bay's start, so each Bay starts on a copy;
# test_migrations.py still migrates from nothing.
TEMPLATE_ENV = "BAY_TEST_SQLITE_TEMPLATE"


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
        "gc": {"enabled": False, "run_on_startup": False},
        "browser_learning": {"enabled": False},
    }
    return Settings(**(values | overrides))


def migrate_template(path: Path) -> None:
    """Create the SQLite database at `path` and migrate it to head, as Bay does at start."""

    async def upgrade() -> None:
        engine = make_engine(f"sqlite+aiosqlite:///{path}")
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    asyncio.run(upgrade())


def seed_database(settings: Settings) -> None:
    """A Bay about to start on a new SQLite file under its data dir gets the template instead
    (its migrations then find nothing to do); PostgreSQL and existing files are left alone."""
    template = os.environ.get(TEMPLATE_ENV)
    database = settings.data_dir / "bay.db"
    if template is None or settings.database.url is not None or database.exists():
        return
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, database)


class Bay:
    """A running app, its HTTP client and its fake driver."""

    def __init__(self, app: FastAPI, client: httpx.AsyncClient, state: dict[str, Any]) -> None:
        self.app = app
        self.client = client
        self.state = state

    @property
    def gc(self) -> GcService:
        return self.state["bay"]["gc"]  # type: ignore[no-any-return]

    @property
    def driver(self) -> FakeDriver:
        return self.app.state.driver  # type: ignore[no-any-return]

    async def sandbox(self, **body: Any) -> str:
        response = await self.client.post("/v1/sandboxes", json=body, headers=AUTH)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])


async def change_sandbox(bay: Bay, sandbox_id: str, **values: Any) -> None:
    """Change the sandbox row behind this Bay's back, as another replica would."""
    async with bay.state["bay"]["sessionmaker"]() as db, db.begin():
        await db.execute(update(Sandbox).where(Sandbox.id == sandbox_id).values(**values))


class FakeClock:
    """A clock tests move by hand: naive UTC, like Bay's own."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@asynccontextmanager
async def start_bay(
    settings: Settings, clock: Clock = utcnow, driver: FakeDriver | None = None
) -> AsyncIterator[Bay]:
    """`driver`: one engine several Bays (replicas) share; default, a new one per Bay."""
    drivers: list[FakeDriver] = []
    seed_database(settings)

    def factory(s: Settings) -> FakeDriver:
        drivers.append(driver or FakeDriver(s.data_dir))
        return drivers[-1]

    app = create_app(settings, clock=clock, driver_factory=factory)
    async with app.router.lifespan_context(app) as state:
        app.state.driver = drivers[0]

        async def with_state(scope: Any, receive: Any, send: Any) -> None:
            # What uvicorn does for lifespan state; httpx's ASGITransport does not.
            scope["state"] = dict(state or {})
            await app(scope, receive, send)

        transport = httpx.ASGITransport(app=with_state)
        async with httpx.AsyncClient(transport=transport, base_url="http://bay") as client:
            yield Bay(app, client, dict(state or {}))


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str | None]:
    """Under `--database=postgres`, one database for these tests, emptied after each."""
    server = postgres.in_use()
    if server is None:
        yield None
        return
    url = postgres.fresh_database(server)
    try:
        yield url
    finally:
        postgres.drop_database(server, url)


@pytest.fixture(autouse=True)
def database_url(
    postgres_database: str | None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str | None]:
    """The test's Bay keeps its rows on PostgreSQL (Settings reads BAY_DATABASE__URL) or in
    SQLite under the test's data dir."""
    server = postgres.in_use()
    if server is None or postgres_database is None:
        yield None
        return
    monkeypatch.setenv("BAY_DATABASE__URL", postgres_database)
    try:
        yield postgres_database
    finally:
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        postgres.empty_database(server, postgres_database, head or "")


@pytest.fixture
def database(postgres_server: postgres.Server) -> Iterator[str]:
    """A fresh PostgreSQL database of its own, for tests of replicas sharing one."""
    url = postgres.fresh_database(postgres_server)
    try:
        yield url
    finally:
        postgres.drop_database(postgres_server, url)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def bay(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Bay]:
    async with start_bay(make_settings(tmp_path), clock) as running:
        yield running
