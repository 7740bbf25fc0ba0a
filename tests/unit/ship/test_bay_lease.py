"""Ship's lease from Bay: it runs out after a quiet spell, never while Bay's request is open."""

import asyncio
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import httpx

from ship.bay_lease import BayLease, watch

from .conftest import StartShip
from .test_main import wait_ready

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


def test_ship_ends_itself_once_bay_is_silent(tmp_path: Path, workspace: Path) -> None:
    read_end, write_end = os.pipe()
    env = {
        **os.environ,
        "SHIP_WORKSPACE": str(workspace),
        "SHIP_SOCKET": str(tmp_path / "ship.sock"),
        "SHIP_READY_FD": str(write_end),
        "SHIP_ORPHAN_AFTER_S": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "ship"], env=env, pass_fds=(write_end,), stderr=subprocess.PIPE
    )
    os.close(write_end)
    try:
        assert wait_ready(read_end, 30) == b"ready\n"
        _, log = process.communicate(timeout=60)
    finally:
        os.close(read_end)
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 0, log
    assert b"no word from Bay for 1 s" in log


def test_a_request_longer_than_the_lease_keeps_ship(tmp_path: Path, workspace: Path) -> None:
    uds = tmp_path / "ship.sock"
    read_end, write_end = os.pipe()
    env = {
        **os.environ,
        "SHIP_WORKSPACE": str(workspace),
        "SHIP_SOCKET": str(uds),
        "SHIP_READY_FD": str(write_end),
        "SHIP_ORPHAN_AFTER_S": "5",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "ship"], env=env, pass_fds=(write_end,), stderr=subprocess.DEVNULL
    )
    os.close(write_end)
    try:
        assert wait_ready(read_end, 30) == b"ready\n"
        transport = httpx.HTTPTransport(uds=str(uds))
        with httpx.Client(transport=transport, base_url="http://ship", timeout=60) as client:
            long = client.post("/shell/exec", json={"command": "sleep 12", "timeout": 60})
            assert process.poll() is None
            after = client.post("/shell/exec", json={"command": "echo still", "timeout": 60})
    finally:
        os.close(read_end)
        process.terminate()
        process.wait(timeout=30)

    assert long.json()["exit_code"] == 0
    assert after.json()["stdout"] == "still\n"
