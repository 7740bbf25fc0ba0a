"""Fixtures of the suites that run on every real driver this machine has, and the database the
Bays under test use (`--database`)."""

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from bay.drivers.base import Driver
from tests import postgres
from tests.bay_process import traversable_tmp
from tests.engines import VARIANT_PARAMS, require, running_driver


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="where the Bays under test keep their rows: SQLite files, or databases on a "
        f"PostgreSQL server (${postgres.SERVER_ENV}, else a throwaway one started here)",
    )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[postgres.Server]:
    """A PostgreSQL server for the whole run: ${SERVER_ENV}'s, else a throwaway cluster."""
    given = os.environ.get(postgres.SERVER_ENV)
    if given:
        server = postgres.Server.from_admin_url(given)
        try:
            yield server
        finally:
            postgres.drop_run_databases(server)
        return
    reason = postgres.missing()
    if reason is not None:
        pytest.skip(f"PostgreSQL: {reason}")
    with postgres.cluster() as server:
        yield server


@pytest.fixture(scope="session", autouse=True)
def database_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Under `--database=postgres`, every Bay the tests start keeps its rows on PostgreSQL."""
    backend = str(request.config.getoption("--database"))
    if backend != "postgres":
        yield backend
        return
    server: postgres.Server = request.getfixturevalue("postgres_server")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(postgres.ACTIVE_ENV, server.admin_url)
        yield backend


@pytest.fixture(scope="module", params=VARIANT_PARAMS)
def variant(request: pytest.FixtureRequest) -> str:
    return require(request.param)


@pytest.fixture(scope="module")
def data_dir(variant: str) -> Iterator[Path]:
    # Short, so socket paths fit in sun_path; traversable, since local sandboxes run as host_uid.
    with traversable_tmp() as path:
        yield path


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def driver(variant: str, data_dir: Path) -> AsyncIterator[Driver]:
    async with running_driver(variant, data_dir) as driver:
        yield driver
