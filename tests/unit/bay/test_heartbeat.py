"""Bay's side of the orphan lease: each session learns its window, a live Bay keeps it open."""

from pathlib import Path

from bay.services.heartbeat import Heartbeat
from tests.unit.bay.conftest import AUTH, Bay, make_settings, start_bay


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


async def start_session(bay: Bay, sandbox_id: str) -> None:
    response = await bay.client.post(
        f"/v1/sandboxes/{sandbox_id}/shell/exec", json={"command": "true"}, headers=AUTH
    )
    assert response.json()["success"] is True


def heartbeat(bay: Bay) -> Heartbeat:
    return Heartbeat(bay.state["bay"]["runtime"], 60)


class TestOrphanWindow:
    async def test_is_the_idle_timeout_plus_the_grace(self, tmp_path: Path) -> None:
        settings = make_settings(tmp_path, ship={"orphan_grace_seconds": 60})
        async with start_bay(settings) as bay:
            await start_session(bay, await bay.sandbox())
            env = bay.driver.started[-1].env

        assert env["SHIP_ORPHAN_AFTER_S"] == "1860"  # python-default: idle_timeout 1800

    async def test_null_grace_means_sessions_never_end_themselves(self, tmp_path: Path) -> None:
        settings = make_settings(tmp_path, ship={"orphan_grace_seconds": None})
        async with start_bay(settings) as bay:
            await start_session(bay, await bay.sandbox())
            env = bay.driver.started[-1].env

        assert "SHIP_ORPHAN_AFTER_S" not in env


class TestHeartbeat:
    async def test_renews_the_lease_of_every_running_session(self, tmp_path: Path) -> None:
        async with start_bay(make_settings(tmp_path)) as bay:
            clock = FakeMonotonic()
            bay.driver.lease_clock = clock
            for _ in range(2):
                await start_session(bay, await bay.sandbox())
            clock.now += 1000
            leases = list(bay.driver.leases.values())
            before = [lease.remaining() for lease in leases]

            answered = await heartbeat(bay).beat_once()

            assert answered == 2
            assert before == [1400, 1400]  # the default window, 1800 + 600, less 1000
            assert [lease.remaining() for lease in leases] == [2400, 2400]

    async def test_skips_stopped_sessions(self, tmp_path: Path) -> None:
        async with start_bay(make_settings(tmp_path)) as bay:
            kept, stopped = await bay.sandbox(), await bay.sandbox()
            for sandbox_id in (kept, stopped):
                await start_session(bay, sandbox_id)
            response = await bay.client.post(f"/v1/sandboxes/{stopped}/stop", headers=AUTH)
            assert response.status_code < 300, response.text

            assert await heartbeat(bay).beat_once() == 1

    async def test_beats_four_times_per_grace(self, tmp_path: Path) -> None:
        async with start_bay(make_settings(tmp_path)) as bay:
            assert Heartbeat(bay.state["bay"]["runtime"], 600).interval_s == 150
