"""The warm pool with the fake driver: claims, misses, refill, rotation and isolation."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bay.config import ContainerSettings, ProfileSettings
from bay.services.warm_pool import WarmPool
from tests.unit.bay.conftest import AUTH, Bay, FakeClock, make_settings, start_bay

ALICE = {"X-Owner": "alice"}
BOB = {"X-Owner": "bob"}


def pool_settings(tmp_path: Path, size: int = 2, **overrides: Any) -> Any:
    profiles = [
        ProfileSettings(id="python-default", warm_pool_size=size, warm_rotate_ttl=600),
        ProfileSettings(id="python-only", capabilities=["python"]),
    ]
    values: dict[str, Any] = {
        "profiles": profiles,
        "warm_pool": {"background": False},
        "security": {"allow_anonymous": True},
    }
    return make_settings(tmp_path, **(values | overrides))


def pool_of(bay: Bay) -> WarmPool:
    return bay.state["bay"]["pool"]  # type: ignore[no-any-return]


async def member_ids(bay: Bay) -> set[str]:
    return {member.id for member in await pool_of(bay)._members()}


async def create(bay: Bay, headers: dict[str, str] = ALICE, **body: Any) -> dict[str, Any]:
    response = await bay.client.post("/v1/sandboxes", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture
async def warm(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Bay]:
    async with start_bay(pool_settings(tmp_path), clock) as running:
        await pool_of(running).refill()
        yield running


class TestClaim:
    async def test_create_takes_a_ready_member(self, warm: Bay) -> None:
        members = await member_ids(warm)
        started = len(warm.driver.started)
        body = await create(warm, ttl=60)
        assert body["id"] in members
        assert body["expires_at"] is not None
        run = await warm.client.post(
            f"/v1/sandboxes/{body['id']}/python/exec", json={"code": "print(1)"}, headers=ALICE
        )
        assert run.json()["output"] == "1"
        assert len(warm.driver.started) == started  # no new session: it was already running
        assert pool_of(warm).hits == 1

    async def test_kernels_boot_with_the_session_for_members_and_python_only(
        self, warm: Bay
    ) -> None:
        assert all(s.env.get("SHIP_PRESTART_KERNEL") == "1" for s in warm.driver.started)
        cargo = (await warm.client.post("/v1/cargos", json={}, headers=ALICE)).json()["id"]
        cold = await create(warm, cargo_id=cargo)
        await warm.client.post(
            f"/v1/sandboxes/{cold['id']}/shell/exec", json={"command": "true"}, headers=ALICE
        )
        assert "SHIP_PRESTART_KERNEL" not in warm.driver.started[-1].env
        await warm.client.post(f"/v1/sandboxes/{cold['id']}/stop", headers=ALICE)
        await warm.client.post(
            f"/v1/sandboxes/{cold['id']}/python/exec", json={"code": "1"}, headers=ALICE
        )
        assert warm.driver.started[-1].env.get("SHIP_PRESTART_KERNEL") == "1"

    async def test_browsers_launch_with_the_session_for_members_of_browser_profiles(
        self, tmp_path: Path
    ) -> None:
        """A claimed browser sandbox finds Chromium running (SHIP_PRESTART_BROWSER)."""
        browser = ProfileSettings(
            id="browser-python",
            warm_pool_size=1,
            containers=[
                ContainerSettings(name="ship", capabilities=["python", "shell", "filesystem"]),
                ContainerSettings(name="browser", runtime_type="browser", capabilities=["browser"]),
            ],
        )
        settings = pool_settings(tmp_path, size=1)
        settings.profiles.append(browser)
        async with start_bay(settings) as bay:
            await pool_of(bay).refill()
            by_profile = {spec.labels.profile: spec.env for spec in bay.driver.started}
            assert by_profile["browser-python"].get("SHIP_PRESTART_BROWSER") == "1"
            assert "SHIP_PRESTART_BROWSER" not in by_profile["python-default"]
            cargo = (await bay.client.post("/v1/cargos", json={}, headers=ALICE)).json()["id"]
            cold = await create(bay, profile="browser-python", cargo_id=cargo)
            await bay.client.post(
                f"/v1/sandboxes/{cold['id']}/shell/exec", json={"command": "true"}, headers=ALICE
            )
            assert "SHIP_PRESTART_BROWSER" not in bay.driver.started[-1].env

    async def test_empty_pool_is_a_miss_and_a_cold_create(self, tmp_path: Path) -> None:
        async with start_bay(pool_settings(tmp_path)) as bay:
            body = await create(bay)
            assert pool_of(bay).misses == 1
            assert body["id"] not in await member_ids(bay)

    async def test_named_cargo_never_claims(self, warm: Bay) -> None:
        cargo = (await warm.client.post("/v1/cargos", json={}, headers=ALICE)).json()
        body = await create(warm, cargo_id=cargo["id"])
        assert body["id"] not in await member_ids(warm)
        assert (pool_of(warm).hits, pool_of(warm).misses) == (0, 0)

    async def test_a_member_is_never_served_twice(self, warm: Bay) -> None:
        members = await member_ids(warm)
        served = [(await create(warm))["id"] for _ in range(3)]
        assert len(set(served)) == 3
        assert set(served[:2]) == members
        assert served[2] not in members
        assert (pool_of(warm).hits, pool_of(warm).misses) == (2, 1)

    async def test_claim_wakes_the_refill(self, warm: Bay) -> None:
        assert not pool_of(warm).wake_requested
        await create(warm)
        assert pool_of(warm).wake_requested


class TestIsolation:
    async def test_members_are_invisible_even_to_their_owner_name(self, warm: Bay) -> None:
        pool_owner = {"X-Owner": "warm-pool"}
        listed = (await warm.client.get("/v1/sandboxes", headers=pool_owner)).json()
        assert listed["items"] == []
        member = sorted(await member_ids(warm))[0]
        got = await warm.client.get(f"/v1/sandboxes/{member}", headers=pool_owner)
        assert got.status_code == 404

    async def test_claimed_sandbox_and_cargo_belong_to_the_claimer(self, warm: Bay) -> None:
        body = await create(warm)
        base = f"/v1/sandboxes/{body['id']}"
        assert (await warm.client.get(base, headers=BOB)).status_code == 404
        assert (await warm.client.get(base, headers=ALICE)).status_code == 200
        mine = (await warm.client.get("/v1/cargos?managed=true", headers=ALICE)).json()
        assert [c["id"] for c in mine["items"]] == [body["cargo_id"]]
        listed = (await warm.client.get("/v1/sandboxes", headers=ALICE)).json()["items"]
        assert [s["id"] for s in listed] == [body["id"]]


class TestRefill:
    async def test_refill_restores_depth_after_claims(self, warm: Bay) -> None:
        claimed = (await create(warm))["id"]
        await pool_of(warm).refill()
        members = await member_ids(warm)
        assert len(members) == 2
        assert claimed not in members

    async def test_old_members_are_rotated(self, warm: Bay, clock: FakeClock) -> None:
        before = await member_ids(warm)
        clock.advance(601)
        await pool_of(warm).refill()
        after = await member_ids(warm)
        assert len(after) == 2
        assert not before & after

    async def test_dead_members_are_replaced(self, warm: Bay) -> None:
        victim = warm.driver.started[0].labels
        warm.driver.crash(victim.session_id)
        await pool_of(warm).refill(check_sessions=True)
        members = await member_ids(warm)
        assert victim.sandbox_id not in members
        assert len(members) == 2

    async def test_a_smaller_size_retires_the_surplus(self, tmp_path: Path) -> None:
        async with start_bay(pool_settings(tmp_path, size=3)) as bay:
            await pool_of(bay).refill()
        async with start_bay(pool_settings(tmp_path, size=1)) as bay:
            await pool_of(bay).refill()
            assert len(await member_ids(bay)) == 1

    async def test_gc_leaves_members_alone(self, warm: Bay, clock: FakeClock) -> None:
        before = await member_ids(warm)
        clock.advance(100_000)
        result = await warm.gc.run_once(clock.now, ["idle_session", "expired_sandbox"])
        assert result.total_cleaned == 0
        assert await member_ids(warm) == before

    async def test_shutdown_deletes_members(self, tmp_path: Path) -> None:
        async with start_bay(pool_settings(tmp_path)) as bay:
            await pool_of(bay).refill()
        async with start_bay(pool_settings(tmp_path, size=0)) as bay:
            assert await member_ids(bay) == set()

    async def test_status_shows_depth_hits_and_misses(self, warm: Bay) -> None:
        await create(warm)
        status = (await warm.client.get("/v1/admin/gc/status", headers=AUTH)).json()
        pool = status["warm_pool"]
        assert (pool["enabled"], pool["hits"], pool["misses"]) == (True, 1, 0)
        assert pool["profiles"]["python-default"] == {"size": 2, "available": 1, "warming": 0}


class TestConcurrency:
    async def test_twenty_creates_share_five_members(self, tmp_path: Path) -> None:
        async with start_bay(pool_settings(tmp_path, size=5)) as bay:
            await pool_of(bay).refill()
            members = await member_ids(bay)
            bodies = await asyncio.gather(*(create(bay) for _ in range(20)))
            ids = [body["id"] for body in bodies]
            assert len(set(ids)) == 20
            assert len(set(ids) & members) == 5
            assert (pool_of(bay).hits, pool_of(bay).misses) == (5, 15)


class TestRuntimes:
    async def test_a_profile_the_driver_cannot_run_is_refused_and_never_pooled(
        self, tmp_path: Path, clock: FakeClock
    ) -> None:
        settings = pool_settings(tmp_path)
        gvisor = ProfileSettings(id="python-gvisor", runtime="runsc", warm_pool_size=2)
        settings.profiles.append(gvisor)
        async with start_bay(settings, clock) as bay:
            await pool_of(bay).refill()
            members = await pool_of(bay)._members()
            assert {member.profile_id for member in members} == {"python-default"}
            assert all(not spec.runtime for spec in bay.driver.started)
            refused = await bay.client.post(
                "/v1/sandboxes", json={"profile": "python-gvisor"}, headers=ALICE
            )
            assert refused.status_code == 400, refused.text
            assert refused.json()["error"]["details"]["runtime"] == "runsc"
