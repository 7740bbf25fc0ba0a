"""GC tasks driven by run_once(now): no sleeps."""

from datetime import timedelta
from pathlib import Path

from bay.drivers.base import CargoSpec
from tests.unit.bay.conftest import AUTH, Bay, FakeClock


async def start_session(bay: Bay, sandbox_id: str) -> None:
    response = await bay.client.post(
        f"/v1/sandboxes/{sandbox_id}/python/exec", json={"code": "v = 1"}, headers=AUTH
    )
    assert response.json()["success"] is True


def cleaned(result: object, task: str) -> int:
    for item in getattr(result, "results"):  # noqa: B009
        if item.task_name == task:
            return int(item.cleaned_count)
    raise AssertionError(task)


class TestIdleSession:
    async def test_reclaims_compute_and_keeps_files(self, bay: Bay, clock: FakeClock) -> None:
        sandbox_id = await bay.sandbox()
        await start_session(bay, sandbox_id)
        result = await bay.gc.run_once(clock.now + timedelta(hours=1), ["idle_session"])
        assert cleaned(result, "idle_session") == 1
        assert await bay.driver.list_instances() == []
        body = (await bay.client.get(f"/v1/sandboxes/{sandbox_id}", headers=AUTH)).json()
        assert (body["status"], body["idle_expires_at"]) == ("idle", None)

    async def test_next_python_result_says_the_kernel_restarted(
        self, bay: Bay, clock: FakeClock
    ) -> None:
        sandbox_id = await bay.sandbox()
        await start_session(bay, sandbox_id)
        await bay.gc.run_once(clock.now + timedelta(hours=1), ["idle_session"])
        after = await bay.client.post(
            f"/v1/sandboxes/{sandbox_id}/python/exec", json={"code": "1"}, headers=AUTH
        )
        assert after.json()["kernel_restarted"] is True

    async def test_leaves_active_sandboxes_alone(self, bay: Bay, clock: FakeClock) -> None:
        await start_session(bay, await bay.sandbox())
        result = await bay.gc.run_once(clock.now + timedelta(seconds=10), ["idle_session"])
        assert cleaned(result, "idle_session") == 0
        assert len(await bay.driver.list_instances()) == 1


class TestExpiredSandbox:
    async def test_deletes_sandbox_and_managed_cargo(self, bay: Bay, clock: FakeClock) -> None:
        sandbox_id = await bay.sandbox(ttl=30)
        await start_session(bay, sandbox_id)
        cargo_dir = Path(bay.driver.started[-1].cargo_ref)
        result = await bay.gc.run_once(clock.now + timedelta(seconds=31), ["expired_sandbox"])
        assert cleaned(result, "expired_sandbox") == 1
        assert (
            await bay.client.get(f"/v1/sandboxes/{sandbox_id}", headers=AUTH)
        ).status_code == 404
        assert not cargo_dir.exists()
        assert await bay.driver.list_instances() == []


class TestOrphans:
    async def test_storage_without_a_row_is_reaped_after_the_grace(
        self, bay: Bay, clock: FakeClock
    ) -> None:
        spec = CargoSpec(cargo_id="ws-0123456789ab", owner="x", size_limit_mb=1, managed=True)
        ref = Path(await bay.driver.create_cargo(spec))
        soon = await bay.gc.run_once(clock.now, ["orphan_cargo"])
        assert (cleaned(soon, "orphan_cargo"), ref.exists()) == (0, True)
        later = await bay.gc.run_once(clock.now + timedelta(hours=1), ["orphan_cargo"])
        assert (cleaned(later, "orphan_cargo"), ref.exists()) == (1, False)

    async def test_instance_without_a_session_row_is_stopped(
        self, bay: Bay, clock: FakeClock
    ) -> None:
        sandbox_id = await bay.sandbox()
        await start_session(bay, sandbox_id)
        spec = bay.driver.started[-1]
        async with bay.state["bay"]["sessionmaker"]() as db, db.begin():
            from sqlalchemy import delete

            from bay.db.models import Session

            await db.execute(delete(Session).where(Session.id == spec.labels.session_id))
        result = await bay.gc.run_once(clock.now, ["orphan_instance"])
        assert cleaned(result, "orphan_instance") == 1
        assert await bay.driver.list_instances() == []

    async def test_a_second_cycle_finds_nothing(self, bay: Bay, clock: FakeClock) -> None:
        await start_session(bay, await bay.sandbox(ttl=5))
        later = clock.now + timedelta(hours=2)
        await bay.gc.run_once(later)
        again = await bay.gc.run_once(later)
        assert again.total_cleaned == 0
        assert again.total_errors == 0
