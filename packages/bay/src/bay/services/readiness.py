"""Whether this Bay can serve: its database answers at the newest schema, its driver answers."""

import asyncio
from collections.abc import Awaitable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bay.db.engine import schema_revisions
from bay.drivers.base import Driver
from shipyard_protocol.api import ReadinessCheck

CHECK_TIMEOUT_S = 5.0


async def check(engine: AsyncEngine, driver: Driver) -> dict[str, ReadinessCheck]:
    """Each check by name; one that raises or takes too long failed, and says how."""
    database = await _held(_database(engine))
    migrations = await _held(_migrations(engine)) if database.ok else _skipped("database")
    driver_check = await _held(_driver(driver))
    return {"database": database, "migrations": migrations, "driver": driver_check}


async def _held(probe: Awaitable[None]) -> ReadinessCheck:
    try:
        await asyncio.wait_for(probe, CHECK_TIMEOUT_S)
    except TimeoutError:
        return ReadinessCheck(ok=False, error=f"no answer in {CHECK_TIMEOUT_S:g} s")
    except Exception as exc:  # noqa: BLE001 - any failure is the answer, not a crash
        return ReadinessCheck(ok=False, error=f"{type(exc).__name__}: {exc}"[:500])
    return ReadinessCheck(ok=True)


def _skipped(needs: str) -> ReadinessCheck:
    return ReadinessCheck(ok=False, error=f"not checked: the {needs} check failed")


async def _database(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def _migrations(engine: AsyncEngine) -> None:
    current, newest = await schema_revisions(engine)
    if current != newest:
        raise RuntimeError(f"schema at revision {current}, this Bay needs {newest}")


async def _driver(driver: Driver) -> None:
    await driver.list_instances()
