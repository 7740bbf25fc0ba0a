"""Ship's lease from Bay: it runs out after a quiet spell, never while Bay's request is open.
Ship ending itself when it runs out needs `python -m ship` as a process: tests/cli/test_ship.py."""

import asyncio
import hashlib

from ship.bay_lease import BayLease, watch

from .conftest import StartShip

TOKEN = "d" * 64
DIGEST = hashlib.sha256(TOKEN.encode()).hexdigest()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestBayLease:
    def test_runs_out_after_a_quiet_spell(self) -> None:
        clock = FakeClock()
        lease = BayLease(30, clock)
        clock.now += 29

        assert lease.remaining() == 1
        clock.now += 1
        assert lease.remaining() == 0

    def test_a_request_in_flight_holds_it_however_long(self) -> None:
        clock = FakeClock()
        lease = BayLease(30, clock)
        with lease.held():
            clock.now += 3600
            assert lease.remaining() == 30

    def test_the_quiet_spell_starts_when_the_request_ends(self) -> None:
        clock = FakeClock()
        lease = BayLease(30, clock)
        with lease.held():
            clock.now += 100
        clock.now += 10

        assert lease.remaining() == 20

    async def test_watch_calls_back_once_it_ran_out(self) -> None:
        lease = BayLease(0.05)
        ended = asyncio.Event()

        await asyncio.wait_for(watch(lease, ended.set), timeout=30)

        assert ended.is_set()
        assert lease.remaining() == 0


class TestRenewal:
    async def test_a_request_renews_the_lease(self, start_ship: StartShip) -> None:
        clock = FakeClock()
        lease = BayLease(30, clock)
        async with start_ship(lease=lease) as client:
            clock.now += 25
            response = await client.get("/health")

        assert response.status_code == 200
        assert lease.remaining() == 30

    async def test_on_tcp_only_requests_with_the_token_renew_it(
        self, start_ship: StartShip
    ) -> None:
        clock = FakeClock()
        lease = BayLease(30, clock)
        async with start_ship(token_sha256=DIGEST, lease=lease) as client:
            clock.now += 25
            # /health answers anyone; the sandbox reaching its own Ship must not renew it.
            open_health = await client.get("/health")
            refused = await client.get("/activity")
            assert (open_health.status_code, refused.status_code) == (200, 401)
            assert lease.remaining() == 5
            await client.get("/health", headers={"Authorization": f"Bearer {TOKEN}"})

        assert lease.remaining() == 30
