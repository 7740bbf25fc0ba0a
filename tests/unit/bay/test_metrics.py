"""`/metrics` with the fake driver: who may scrape, what the pool and Ship errors count."""

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bay.metrics import Metrics
from bay.services.keys import KeyService
from bay.ship_client import ShipUnreachableError
from tests.bay_process import free_port
from tests.unit.bay.conftest import AUTH, Bay, FakeClock, make_settings, start_bay
from tests.unit.bay.test_warm_pool import create, pool_of, pool_settings


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition by name and sorted labels (the parser checks the syntax)."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def scrape(
    bay: Bay, headers: dict[str, str] = AUTH
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await bay.client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


class TestAccess:
    async def test_no_token_is_401(self, bay: Bay) -> None:
        assert (await bay.client.get("/metrics")).status_code == 401

    async def test_a_users_key_is_403(self, bay: Bay) -> None:
        async with bay.state["bay"]["sessionmaker"]() as db, db.begin():
            key = (await KeyService(db, bay.state["bay"]["clock"]).create("alice")).api_key
        response = await bay.client.get("/metrics", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 403

    async def test_the_metrics_token_or_an_admin_key_scrapes(self, tmp_path: Path) -> None:
        settings = make_settings(tmp_path, metrics={"token": "scrape-me"})
        async with start_bay(settings) as bay:
            await scrape(bay, {"Authorization": "Bearer scrape-me"})
            await scrape(bay, AUTH)
            wrong = await bay.client.get("/metrics", headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401

    async def test_a_separate_listener_serves_it_without_a_token(self, tmp_path: Path) -> None:
        port = free_port()
        settings = make_settings(tmp_path, metrics={"listen": f"127.0.0.1:{port}"})
        async with start_bay(settings) as bay, httpx.AsyncClient() as http:
            assert (await bay.client.get("/metrics", headers=AUTH)).status_code == 404
            response = await http.get(f"http://127.0.0.1:{port}/metrics")
            assert response.status_code == 200
            assert ("bay_gc_runs_total", ()) in samples(response.text)

    async def test_two_apps_in_one_process_count_apart(self, tmp_path: Path) -> None:
        async with (
            start_bay(make_settings(tmp_path / "a")) as a,
            start_bay(make_settings(tmp_path / "b")) as b,
        ):
            await a.client.get("/health")
            key = (
                "bay_http_requests_total",
                (("method", "GET"), ("route", "/health"), ("status", "200")),
            )
            assert (await scrape(a))[key] == 1
            assert key not in await scrape(b)


class TestCounts:
    async def test_pool_hits_misses_and_depth(self, tmp_path: Path) -> None:
        async with start_bay(pool_settings(tmp_path, size=1)) as bay:
            await pool_of(bay).refill()
            await create(bay)  # the one member
            await create(bay)  # empty: a miss
            got = await scrape(bay)
        profile = (("profile", "python-default"),)
        assert got[("bay_warm_pool_hits_total", profile)] == 1
        assert got[("bay_warm_pool_misses_total", profile)] == 1
        assert got[("bay_warm_pool_available", profile)] == 0
        ready = (("profile", "python-default"), ("status", "ready"))
        idle = (("profile", "python-default"), ("status", "idle"))
        assert (got[("bay_sandboxes", ready)], got[("bay_sandboxes", idle)]) == (1, 1)
        assert got[("bay_session_starts_total", (("driver", "fake"),))] == 1

    async def test_sandboxes_by_status(self, bay: Bay, clock: FakeClock) -> None:
        await bay.sandbox(ttl=60)
        await bay.sandbox()
        clock.advance(61)
        got = await scrape(bay)
        for status in ("expired", "idle"):
            labels = (("profile", "python-default"), ("status", status))
            assert got[("bay_sandboxes", labels)] == 1

    async def test_ship_errors_count_by_kind(self, bay: Bay) -> None:
        ship = bay.state["bay"]["ship"]
        with pytest.raises(ShipUnreachableError):
            await ship.health("unix:/nonexistent/ship.sock")
        got = await scrape(bay)
        # No connection at all: the call provably never reached Ship.
        assert got[("bay_ship_call_errors_total", (("error", "ShipRefusedError"),))] == 1


def test_label_values_never_hold_ids() -> None:
    text = Metrics("fake").exposition().decode()
    assert "sandbox-" not in text
