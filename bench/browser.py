"""The browser (issue 17): create -> first `open about:blank`, cold and from a warm pool of
browser sandboxes; `snapshot` of a small page once the browser is up; an idle browser
sandbox's memory (Ship and the browser, PSS)."""

import asyncio
import time
from typing import Any

from bench.bays import Api, api, config, running, variant
from bench.model import Row, at_most, ms
from bench.procs import docker_roots, footprint, local_root
from tests.bay_process import BayProcess

PROFILE = "browser-python"
COLD = 5
WARM = 20
POOL = 3
SNAPSHOTS = 50
# A small page, inline so that no server and no network are involved.
PAGE = (
    "data:text/html,<title>bench</title><h1>Orders</h1><form><input name=q "
    "placeholder=search><button>Go</button></form><ul><li><a href=%23a>a</a></li>"
    "<li><a href=%23b>b</a></li></ul>"
)
OPEN = "open about:blank"


def browser_config(pool_size: int = 0) -> dict[str, Any]:
    """The default browser profile's runtimes (Ship, and the browser with its own limits)."""
    settings = config()
    profile = {
        "id": PROFILE,
        "warm_pool_size": pool_size,
        "idle_timeout": 86400,
        "containers": [
            {
                "name": "ship",
                "runtime_type": "ship",
                "capabilities": ["filesystem", "shell", "python"],
            },
            {
                "name": "browser",
                "runtime_type": "browser",
                "capabilities": ["browser"],
                "resources": {"cpus": 1.0, "memory": "2g"},
            },
        ],
    }
    return {**settings, "profiles": [profile]}


def scenario(drivers: list[str]) -> list[Row]:
    rows: list[Row] = []
    # gVisor refuses a browser profile (its sidecar cannot share the session's namespaces).
    for driver in (d for d in drivers if variant(d)[1] is None):
        with running(driver, browser_config()) as bay:
            rows += asyncio.run(_cold(bay, driver))
        with running(driver, browser_config(POOL)) as bay:
            rows += asyncio.run(_warm(bay, driver))
    return rows


async def _browser(client: Api, sandbox_id: str, cmd: str) -> dict[str, Any]:
    body = {"cmd": cmd, "timeout": 120}
    response = await client.http.post(f"/v1/sandboxes/{sandbox_id}/browser/exec", json=body)
    response.raise_for_status()
    return dict(response.json())


async def _first_open(client: Api) -> tuple[float, str, bool]:
    started = time.perf_counter()
    sandbox_id = await client.create(profile=PROFILE)
    result = await _browser(client, sandbox_id, OPEN)
    return time.perf_counter() - started, sandbox_id, bool(result.get("success"))


async def _cold(bay: BayProcess, driver: str) -> list[Row]:
    samples, errors = [], 0
    async with api(bay) as client:
        for _ in range(COLD):
            seconds, sandbox_id, ok = await _first_open(client)
            samples.append(seconds)
            errors += not ok
            await client.delete(sandbox_id)
    metric = f"{driver} cold: create -> first open about:blank"
    return [Row("browser", metric, "ms", ms(samples), errors=errors)]


async def _warm(bay: BayProcess, driver: str) -> list[Row]:
    samples, errors = [], 0
    async with api(bay) as client:
        for _ in range(WARM):
            await client.wait_for_pool(POOL, profile_id=PROFILE)
            seconds, sandbox_id, ok = await _first_open(client)
            samples.append(seconds)
            errors += not ok
            await client.delete(sandbox_id)
        rows = [
            Row(
                "browser",
                f"{driver} warm pool: create -> first open about:blank",
                "ms",
                ms(samples),
                goal=at_most(300, "p50 ≤ 300 ms"),
                errors=errors,
            )
        ]
        sandbox_id = await client.create(profile=PROFILE)
        rows.append(await _snapshots(client, sandbox_id, driver))
        rows.append(await _idle_memory(bay, client, sandbox_id, driver))
        await client.delete(sandbox_id)
    return rows


async def _snapshots(client: Api, sandbox_id: str, driver: str) -> Row:
    opened = await _browser(client, sandbox_id, f"open '{PAGE}'")
    samples, errors = [], int(not opened.get("success"))
    for _ in range(SNAPSHOTS):
        started = time.perf_counter()
        result = await _browser(client, sandbox_id, "snapshot")
        samples.append(time.perf_counter() - started)
        errors += "Orders" not in str(result.get("output"))
    metric = f"{driver}: snapshot of a small page (browser up)"
    return Row(
        "browser", metric, "ms", ms(samples), goal=at_most(150, "p50 ≤ 150 ms"), errors=errors
    )


async def _idle_memory(bay: BayProcess, client: Api, sandbox_id: str, driver: str) -> Row:
    """After the page is open and the calls are over: every process of the sandbox (on
    Docker both containers: Ship's and the browser's sidecar)."""
    await asyncio.sleep(2)  # the page settles; nothing else is measured meanwhile
    if driver == "local":
        root = local_root(bay.data_dir, sandbox_id)
        roots = [root] if root is not None else []
    else:
        roots = docker_roots(sandbox_id)
    # The warm pool also started the Python kernel: not part of "Ship + browser".
    pss = sum(footprint(root, kernel=False).pss_mb for root in roots)
    kernel = sum(footprint(root, kernel=True).pss_mb for root in roots)
    where = "bwrap included" if driver == "local" else "both containers, their shims included"
    note = f"{where}; the Python kernel ({kernel:.0f} MB) left out"
    metric = f"{driver}: idle browser sandbox, Ship + browser (PSS)"
    return Row(
        "browser", metric, "MB", value=round(pss, 1), goal=at_most(250, "≤ 250 MB"), note=note
    )
