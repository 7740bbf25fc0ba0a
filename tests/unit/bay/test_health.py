"""`/health` says Bay is alive; `/ready` says which of database, schema and driver fails."""

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bay.drivers.base import DriverError
from tests.unit.bay.conftest import Bay


async def test_health_is_200_without_auth(bay: Bay) -> None:
    response = await bay.client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_ready_when_every_check_holds(bay: Bay) -> None:
    response = await bay.client.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert {name: c["ok"] for name, c in body["checks"].items()} == {
        "database": True,
        "migrations": True,
        "driver": True,
    }


async def test_an_old_schema_is_503(bay: Bay) -> None:
    async with bay.state["bay"]["engine"].begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    response = await bay.client.get("/ready")
    assert response.status_code == 503
    check = response.json()["checks"]["migrations"]
    assert check["ok"] is False
    assert "schema at revision 0001" in check["error"]


async def test_an_unreachable_driver_is_503(bay: Bay, monkeypatch: pytest.MonkeyPatch) -> None:
    async def refuse() -> list[object]:
        raise DriverError("engine down")

    monkeypatch.setattr(bay.driver, "list_instances", refuse)
    body = (await bay.client.get("/ready")).json()
    assert body["status"] == "unready"
    assert body["checks"]["driver"] == {"ok": False, "error": "DriverError: engine down"}
    assert body["checks"]["database"]["ok"] is True


async def test_an_unreachable_database_is_503(bay: Bay) -> None:
    async def refuse() -> Any:
        raise ConnectionRefusedError("database down")

    state = bay.state["bay"]
    engine, state["engine"] = (
        state["engine"],
        create_async_engine("sqlite+aiosqlite://", async_creator=refuse),
    )
    try:
        response = await bay.client.get("/ready")
    finally:
        await state["engine"].dispose()
        state["engine"] = engine  # the lifespan disposes the real one
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"]["ok"] is False
    assert checks["migrations"] == {"ok": False, "error": "not checked: the database check failed"}
