"""The warm exec path: what one execution asks of the database and the driver."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bay.drivers.base import InstanceState
from tests.unit.bay.conftest import AUTH, Bay


@contextmanager
def commits(bay: Bay) -> Iterator[list[int]]:
    """Every transaction committed on Bay's database meanwhile (its count)."""
    engine: AsyncEngine = bay.state["bay"]["engine"]
    seen: list[int] = []

    def committed(_: Any) -> None:
        seen.append(1)

    event.listen(engine.sync_engine, "commit", committed)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "commit", committed)


async def run(bay: Bay, sandbox_id: str, code: str = "1") -> dict[str, Any]:
    response = await bay.client.post(
        f"/v1/sandboxes/{sandbox_id}/python/exec", json={"code": code}, headers=AUTH
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_warm_exec_writes_once_before_ship_and_once_after(bay: Bay) -> None:
    sandbox_id = await bay.sandbox()
    await run(bay, sandbox_id)
    with commits(bay) as seen:
        await run(bay, sandbox_id, "print(2)")
    # The capability check's read, the session found with the history row opened, the row
    # completed: nothing else commits.
    assert len(seen) == 3


async def test_a_warm_exec_asks_the_driver_nothing(
    bay: Bay, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox_id = await bay.sandbox()
    await run(bay, sandbox_id)
    asked: list[str] = []

    async def inspect(ref: str) -> InstanceState:
        asked.append(ref)
        return InstanceState.RUNNING

    monkeypatch.setattr(bay.driver, "inspect", inspect)
    for _ in range(3):
        await run(bay, sandbox_id)
    assert asked == []


async def test_a_refused_call_to_a_session_that_still_runs_is_an_error_not_a_restart(
    bay: Bay,
) -> None:
    sandbox_id = await bay.sandbox()
    await run(bay, sandbox_id, "x = 1")
    bay.driver.refuse(bay.driver.started[-1].labels.session_id)  # the driver: still running
    refused = await bay.client.post(
        f"/v1/sandboxes/{sandbox_id}/python/exec", json={"code": "x"}, headers=AUTH
    )
    assert refused.status_code == 502
    assert refused.json()["error"]["message"].startswith("Ship request failed")
    assert len(bay.driver.started) == 1


async def test_an_exec_refused_by_a_dead_session_runs_once_in_a_new_one(bay: Bay) -> None:
    sandbox_id = await bay.sandbox()
    await run(bay, sandbox_id, "x = 1")
    bay.driver.crash(bay.driver.started[-1].labels.session_id)
    after = await run(bay, sandbox_id, "print('once')")
    history = await bay.client.get(f"/v1/sandboxes/{sandbox_id}/history", headers=AUTH)
    entries = history.json()["entries"]
    assert (after["output"], after["kernel_restarted"]) == ("once", True)
    assert [e["code"] for e in entries].count("print('once')") == 1
    assert len(bay.driver.started) == 2
