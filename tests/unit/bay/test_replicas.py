"""Two Bay replicas on one PostgreSQL database, both reaching one (fake) engine."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from bay.config import ProfileSettings, Settings
from bay.db.models import ApiKey, IdempotencyKey, Lease, Sandbox, Session
from bay.drivers.fake import FakeDriver
from bay.services import leases
from bay.services.clock import utcnow
from tests.unit.bay.conftest import AUTH, Bay, FakeClock, make_settings, start_bay

LEASE_S = 30.0
# One worker runs these, so one PostgreSQL server starts for them (`make test`: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("postgres")


def replica(data_dir: Path, url: str, name: str, **overrides: Any) -> Settings:
    values = {"instance_id": name, "database": {"url": url}, "replicas": {"lease_seconds": LEASE_S}}
    return make_settings(data_dir, **(values | overrides))


@asynccontextmanager
async def replicas(
    data_dir: Path, url: str, clock: FakeClock, **overrides: Any
) -> AsyncIterator[tuple[Bay, Bay]]:
    engine = FakeDriver(data_dir)
    async with (
        start_bay(replica(data_dir, url, "bay-a", **overrides), clock, engine) as a,
        start_bay(replica(data_dir, url, "bay-b", **overrides), clock, engine) as b,
    ):
        yield a, b


async def execute(bay: Bay, sandbox_id: str, code: str = "1 + 1") -> None:
    response = await bay.client.post(
        f"/v1/sandboxes/{sandbox_id}/python/exec", json={"code": code}, headers=AUTH
    )
    assert response.status_code == 200, response.text


async def lock_waits(bay: Bay, until: int) -> None:
    """Until `until` statements of this database wait on a row lock."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    async with asyncio.timeout(60):
        while True:
            async with bay.state["bay"]["sessionmaker"]() as db:
                if await db.scalar(query) >= until:
                    return
            await asyncio.sleep(0.02)


async def sessions(bay: Bay) -> list[Session]:
    async with bay.state["bay"]["sessionmaker"]() as db:
        return list(await db.scalars(select(Session).order_by(Session.created_at)))


class TestStart:
    async def test_replicas_starting_together_migrate_and_seed_the_key_once(
        self, tmp_path: Path, database: str, clock: FakeClock
    ) -> None:
        engine = FakeDriver(tmp_path)
        up: list[Bay] = []
        stop = asyncio.Event()

        async def serve(name: str) -> None:
            async with start_bay(replica(tmp_path, database, name), clock, engine) as bay:
                up.append(bay)
                await stop.wait()

        tasks = [asyncio.create_task(serve(name)) for name in ("bay-a", "bay-b", "bay-c")]
        async with asyncio.timeout(60):  # replicas migrating at once can wait on each other
            while len(up) < len(tasks) and not any(task.done() for task in tasks):
                await asyncio.sleep(0.01)
        async with up[0].state["bay"]["sessionmaker"]() as db:
            keys = list(await db.scalars(select(ApiKey)))
        stop.set()
        await asyncio.gather(*tasks)
        assert len(keys) == 1


class TestSessions:
    async def test_a_replica_starting_keeps_the_other_ones_sessions(
        self, tmp_path: Path, database: str, clock: FakeClock
    ) -> None:
        engine = FakeDriver(tmp_path)
        async with start_bay(replica(tmp_path, database, "bay-a"), clock, engine) as a:
            sandbox_id = await a.sandbox()
            await execute(a, sandbox_id)
            async with start_bay(replica(tmp_path, database, "bay-b"), clock, engine) as b:
                await execute(b, sandbox_id)
                rows = await sessions(b)
        assert [row.instance_id for row in rows] == ["bay-a"]
        assert len(engine.started) == 1

    async def test_first_calls_on_both_replicas_start_one_session(
        self, tmp_path: Path, database: str, clock: FakeClock
    ) -> None:
        async with replicas(tmp_path, database, clock) as (a, b):
            sandbox_id = await a.sandbox()
            await asyncio.gather(*(execute(bay, sandbox_id) for bay in (a, b, a, b, a, b)))
            assert len(a.driver.started) == 1
            assert len(await sessions(a)) == 1

    async def test_a_start_waited_for_under_the_lock_is_seen_whole(
        self, tmp_path: Path, database: str, clock: FakeClock
    ) -> None:
        """bay-b's call waits on the sandbox's row lock while bay-a writes a new session row;
        once bay-a commits, bay-b must see that row, not begin a second session."""
        async with replicas(tmp_path, database, clock) as (a, b):
            sandbox_id = await a.sandbox()
            await execute(a, sandbox_id)
            (first,) = await sessions(a)
            async with a.state["bay"]["sessionmaker"]() as db, db.begin():
                locked = select(Sandbox).where(Sandbox.id == sandbox_id).with_for_update()
                sandbox = await db.scalar(locked)
                assert sandbox is not None
                second = Session(
                    id="sess-written-under-the-lock",
                    sandbox_id=sandbox_id,
                    profile_id=first.profile_id,
                    desired_state="running",
                    observed_state="running",
                    instance_id="bay-a",
                    driver_ref=first.driver_ref,
                    endpoint=first.endpoint,
                    created_at=clock.now,
                )
                db.add(second)
                await db.flush()
                sandbox.current_session_id = second.id
                waiting = asyncio.create_task(execute(b, sandbox_id))
                await lock_waits(b, until=1)
            await waiting
        assert len(a.driver.started) == 1

    async def test_a_gone_replicas_dead_sessions_are_reaped_and_live_ones_adopted(
        self, tmp_path: Path, database: str, clock: FakeClock
    ) -> None:
        async with replicas(tmp_path, database, clock) as (a, b):
            dead, alive = await a.sandbox(), await a.sandbox()
            await execute(a, dead)
            await execute(a, alive)
            dead_session = next(s for s in await sessions(a) if s.sandbox_id == dead)
            a.driver.crash(dead_session.id)
            clock.advance(LEASE_S + 1)  # bay-a stops renewing: its lease runs out
            result = await b.gc.run_once(clock.now, ["orphan_instance"])
            rows = await sessions(b)
            await execute(b, alive)
        assert result.total_cleaned == 1
        assert [(row.sandbox_id, row.instance_id) for row in rows] == [(alive, "bay-b")]

    async def test_a_live_replicas_session_is_not_reaped_by_gc(
        self, tmp_path: Path, database: str, clock: FakeClock
    ) -> None:
        async with replicas(tmp_path, database, clock) as (a, b):
            sandbox_id = await a.sandbox()
            await execute(a, sandbox_id)
            a.driver.crash((await sessions(a))[0].id)
            result = await b.gc.run_once(clock.now, ["orphan_instance"])
            assert result.total_cleaned == 0
            assert len(await sessions(b)) == 1


class TestWarmPool:
    async def test_a_burst_on_both_replicas_hands_each_member_out_once(
        self, tmp_path: Path, database: str, clock: FakeClock
    ) -> None:
        profile = ProfileSettings(id="python-default", warm_pool_size=4, warm_rotate_ttl=600)
        overrides = {"profiles": [profile], "warm_pool": {"background": False}}
        async with replicas(tmp_path, database, clock, **overrides) as (a, b):
            await a.state["bay"]["pool"].refill()
            ids = await asyncio.gather(*(bay.sandbox() for bay in (a, b) * 4))
            pool = a.state["bay"]["pool"], b.state["bay"]["pool"]
        assert len(set(ids)) == 8
        assert sum(p.hits for p in pool) == 4


class TestIdempotency:
    async def test_a_claim_of_a_gone_replica_run_is_taken_over(
        self, tmp_path: Path, database: str, clock: FakeClock
    ) -> None:
        async with replicas(tmp_path, database, clock) as (a, b):
            first = await a.client.post(
                "/v1/sandboxes", json={}, headers={**AUTH, "Idempotency-Key": "k1"}
            )
            async with b.state["bay"]["sessionmaker"]() as db, db.begin():
                row = await db.get(IdempotencyKey, ("default", "k1"))
                assert row is not None
                row.state, row.response_snapshot = "in_progress", None
                row.instance_id = "bay-a/run-killed"  # a run of bay-a that is no more
            again = await b.client.post(
                "/v1/sandboxes", json={}, headers={**AUTH, "Idempotency-Key": "k1"}
            )
        assert (first.status_code, again.status_code) == (201, 201)
        assert again.json()["id"] != first.json()["id"]  # the first answer was never stored

    async def test_a_claim_of_a_live_replica_is_waited_for(
        self, tmp_path: Path, database: str, clock: FakeClock
    ) -> None:
        overrides = {"idempotency": {"wait_s": 0.3}}
        async with replicas(tmp_path, database, clock, **overrides) as (a, b):
            await a.client.post("/v1/sandboxes", json={}, headers={**AUTH, "Idempotency-Key": "k"})
            async with b.state["bay"]["sessionmaker"]() as db, db.begin():
                row = await db.get(IdempotencyKey, ("default", "k"))
                assert row is not None
                row.state, row.response_snapshot = "in_progress", None
            again = await b.client.post(
                "/v1/sandboxes", json={}, headers={**AUTH, "Idempotency-Key": "k"}
            )
        assert again.status_code == 409


class TestLeases:
    async def test_a_held_lease_is_renewed_while_its_job_runs(
        self, tmp_path: Path, database: str
    ) -> None:
        async with start_bay(replica(tmp_path, database, "bay-a")) as bay:
            sessionmaker = bay.state["bay"]["sessionmaker"]
            started = utcnow()
            async with leases.held(sessionmaker, "job", "bay-a", started, utcnow, 0.3) as ours:
                await asyncio.sleep(0.5)
                async with sessionmaker() as db:
                    lease = await db.get(Lease, "job")
            async with sessionmaker() as db:
                after = await db.get(Lease, "job")
        assert ours
        assert lease is not None
        assert lease.expires_at > started + timedelta(seconds=0.4)
        assert after is None
