"""The async engine, its session factory, and schema migration at startup."""

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as DbSession

MIGRATIONS = Path(__file__).parent / "migrations"
# pg_advisory_lock key of Bay's startup (migrations, seeding the admin key): "bay-boot".
STARTUP_LOCK = 0x6261792D626F6F74


def make_engine(
    url: str, echo: bool = False, pool_size: int = 10, max_overflow: int = 30
) -> AsyncEngine:
    """An engine; SQLite gets WAL and a busy timeout so readers never block writers, and
    PostgreSQL a check of each pooled connection and text it can hold."""
    pool = {"pool_size": pool_size, "max_overflow": max_overflow}
    if not url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, pool_pre_ping=True, **pool)
        event.listen(engine.sync_engine, "before_cursor_execute", _without_nul, retval=True)
        return engine
    engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30}, **pool)
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _without_nul(
    _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
) -> tuple[str, Any]:
    """PostgreSQL's text refuses U+0000, which a program's output (history) or a request's
    string may hold: it is stored as U+FFFD there."""
    return statement, _clean(parameters)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, tuple | list):
        return type(value)(_clean(item) for item in value)
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    return value


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")  # WAL stays consistent; no fsync per commit
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[DbSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@functools.cache
def head_revision() -> str | None:
    """The newest revision this Bay knows; its migration scripts are read once per process."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _upgrade(connection: Connection) -> None:
    if MigrationContext.configure(connection).get_current_revision() == head_revision():
        return  # at the head already (most starts): no scripts to load, nothing to run
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


@asynccontextmanager
async def startup_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    """Replicas starting together migrate and seed one after another (PostgreSQL advisory
    lock); on SQLite, whose writers queue anyway, it holds nothing."""
    if engine.dialect.name != "postgresql":
        yield
        return
    async with engine.connect() as connection:
        await connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": STARTUP_LOCK})
        await connection.commit()
        try:
            yield
        finally:
            await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": STARTUP_LOCK})
            await connection.commit()


def _revision(connection: Connection) -> tuple[str | None, str | None]:
    current = MigrationContext.configure(connection).get_current_revision()
    return current, head_revision()


async def schema_revisions(engine: AsyncEngine) -> tuple[str | None, str | None]:
    """(the database's revision, the newest this Bay knows)."""
    async with engine.connect() as connection:
        return await connection.run_sync(_revision)
