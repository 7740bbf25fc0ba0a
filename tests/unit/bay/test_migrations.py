"""Alembic's migrations on SQLite and PostgreSQL: up, down to nothing, up again, as the models."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

from bay.db.engine import alembic_config, make_engine, migrate
from bay.db.models import Base
from tests import postgres

# One worker runs these, so one PostgreSQL server starts for them (`make test`: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("postgres")


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'bay.db'}"
        return
    server: postgres.Server = request.getfixturevalue("postgres_server")
    database = postgres.fresh_database(server)
    try:
        yield database
    finally:
        postgres.drop_database(server, database)


def _downgrade(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, "base")


def _differences(connection: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


def _tables(connection: Connection) -> list[str]:
    return sorted(inspect(connection).get_table_names())


async def test_migrations_go_up_down_and_up_to_the_models(url: str) -> None:
    engine = make_engine(url)
    try:
        await migrate(engine)
        async with engine.begin() as connection:
            await connection.run_sync(_downgrade)
            emptied = await connection.run_sync(_tables)
        await migrate(engine)
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences)
    finally:
        await engine.dispose()
    assert emptied == ["alembic_version"]
    assert differences == []
