"""The warm exec path: what one execution asks of the database and the driver."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bay.drivers.base import InstanceState
from tests.unit.bay.conftest import AUTH, Bay, FakeClock, change_sandbox
from tests.unit.bay.skill_steps import other_owner


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


@contextmanager
def statements(bay: Bay) -> Iterator[list[str]]:
    """Every SQL statement Bay sent meanwhile."""
    engine: AsyncEngine = bay.state["bay"]["engine"]
    seen: list[str] = []

    def sent(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(engine.sync_engine, "before_cursor_execute", sent)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", sent)


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
    with commits(bay) as seen, statements(bay) as sent:
        await run(bay, sandbox_id, "print(2)")
    # The session found with the history row opened, the row completed: nothing else
    # commits, and the sandbox is read once (the capability check remembers it).
    assert len(seen) == 2
    reads = [s for s in sent if s.lstrip().startswith("SELECT") and "FROM sandboxes" in s]
    assert len(reads) == 1, sent


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


async def test_a_remembered_sandbox_another_replica_deleted_is_refused(
    bay: Bay, clock: FakeClock
) -> None:
    sandbox_id = await bay.sandbox()
    await run(bay, sandbox_id)  # the capability check now remembers it
    await change_sandbox(bay, sandbox_id, deleted_at=clock())
    response = await bay.client.post(
        f"/v1/sandboxes/{sandbox_id}/python/exec", json={"code": "1"}, headers=AUTH
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_a_remembered_sandbox_whose_ttl_another_replica_cut_is_refused(
    bay: Bay, clock: FakeClock
) -> None:
    sandbox_id = await bay.sandbox(ttl=3600)
    await run(bay, sandbox_id)
    await change_sandbox(bay, sandbox_id, expires_at=clock() - timedelta(seconds=1))
    response = await bay.client.post(
        f"/v1/sandboxes/{sandbox_id}/shell/exec", json={"command": "true"}, headers=AUTH
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "sandbox_expired"


async def test_a_remembered_expiry_extended_elsewhere_is_read_again(
    bay: Bay, clock: FakeClock
) -> None:
    sandbox_id = await bay.sandbox(ttl=60)
    await run(bay, sandbox_id)
    await change_sandbox(bay, sandbox_id, expires_at=clock() + timedelta(seconds=600))
    clock.advance(61)  # past the remembered expiry, not the extended one
    assert (await run(bay, sandbox_id, "print(3)"))["output"] == "3"


async def test_a_deleted_sandbox_is_forgotten_at_once(bay: Bay) -> None:
    sandbox_id = await bay.sandbox()
    await run(bay, sandbox_id)
    assert (await bay.client.delete(f"/v1/sandboxes/{sandbox_id}", headers=AUTH)).status_code == 204
    # A bad body too: the 404 of the lookup still comes first (§1.4), not the 422.
    response = await bay.client.post(
        f"/v1/sandboxes/{sandbox_id}/python/exec", json={"nope": 1}, headers=AUTH
    )
    assert response.status_code == 404


async def test_another_owner_never_gets_a_remembered_sandbox(bay: Bay) -> None:
    sandbox_id = await bay.sandbox()
    await run(bay, sandbox_id)
    stranger = await other_owner(bay)
    response = await bay.client.post(
        f"/v1/sandboxes/{sandbox_id}/python/exec", json={"code": "1"}, headers=stranger
    )
    assert response.status_code == 404


async def test_the_first_exec_of_a_new_sandbox_skips_the_capability_read(bay: Bay) -> None:
    sandbox_id = await bay.sandbox()
    with statements(bay) as sent:
        await run(bay, sandbox_id)
    # Its start reads it under the row lock; the capability check (the owner's live
    # sandboxes) does not read it at all: the create remembered it.
    checks = [s for s in sent if "FROM sandboxes" in s and "deleted_at IS NULL" in s]
    assert checks == []
    assert any("FROM sandboxes" in s for s in sent)


async def test_a_process_list_of_a_sandbox_another_replica_deleted_is_404(
    bay: Bay, clock: FakeClock
) -> None:
    sandbox_id = await bay.sandbox()
    await run(bay, sandbox_id)
    await change_sandbox(bay, sandbox_id, deleted_at=clock())
    response = await bay.client.get(f"/v1/sandboxes/{sandbox_id}/processes", headers=AUTH)
    assert response.status_code == 404
