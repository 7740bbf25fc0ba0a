"""Memory per idle sandbox (PSS of its whole process tree) and how many idle ones fit."""

import asyncio
import time
from collections.abc import Callable

import httpx

from bench.bays import Api, api, config, running, variant
from bench.model import Row, at_least, at_most
from bench.procs import Footprint, docker_root, footprint, local_root, mem_available_mb
from tests.bay_process import BayProcess

SAMPLE = 5
DENSITY_CAP = 200
BATCH = 10


def scenario(drivers: list[str]) -> list[Row]:
    rows: list[Row] = []
    # Runtime variants (gVisor) are left out: their memory is the sandbox kernel's, not ours.
    for driver in (d for d in drivers if variant(d)[1] is None):
        with running(driver, config()) as bay:
            rows += asyncio.run(_footprints(bay, driver))
    with running("local", config()) as bay:
        rows += asyncio.run(_density(bay))
    return rows


def _root_finder(bay: BayProcess, driver: str) -> Callable[[str], int | None]:
    if driver == "local":
        return lambda sandbox_id: local_root(bay.data_dir, sandbox_id)
    return docker_root


def _measure(roots: list[int | None]) -> list[Footprint]:
    return [footprint(root) for root in roots if root is not None]


async def _footprints(bay: BayProcess, driver: str) -> list[Row]:
    root_of = _root_finder(bay, driver)
    async with api(bay) as client:
        ids = [await client.create() for _ in range(SAMPLE)]
        for sandbox_id in ids:
            await client.shell(sandbox_id, "true")  # a session, and no kernel yet
        roots = [root_of(sandbox_id) for sandbox_id in ids]
        bare = _measure(roots)
        for sandbox_id in ids:
            await client.python(sandbox_id, "pass")
        with_kernel = _measure(roots)
        await client.delete(*ids)
    note = "docker: the container's shim included" if driver == "docker" else "bwrap included"
    return [
        Row(
            "memory",
            f"{driver}: idle sandbox, no kernel (PSS)",
            "MB",
            [f.pss_mb for f in bare],
            goal=at_most(40, "≤ 40 MB"),
            note=f"{note}; {bare[0].threads if bare else 0} threads",
        ),
        Row(
            "memory",
            f"{driver}: idle sandbox with a started kernel (PSS)",
            "MB",
            [f.pss_mb for f in with_kernel],
            note=f"{with_kernel[0].threads if with_kernel else 0} threads",
        ),
    ]


async def _idle_one(client: Api) -> tuple[str | None, str]:
    """A sandbox with a running session and no kernel: (id, error or "")."""
    sandbox_id = None
    try:
        sandbox_id = await client.create()
        await client.shell(sandbox_id, "true")
    except httpx.HTTPError as exc:
        return sandbox_id, f"{type(exc).__name__}: {exc}"[:200]
    return sandbox_id, ""


async def _density(bay: BayProcess) -> list[Row]:
    available = mem_available_mb()
    started = time.perf_counter()
    async with api(bay) as client:
        ids, failure = await _fill(client)
        elapsed = round(time.perf_counter() - started, 1)
        calls = (client.shell(sandbox_id, "echo ok") for sandbox_id in ids)
        answers = await asyncio.gather(*calls, return_exceptions=True)
        alive = sum(isinstance(a, dict) and a.get("output", "").strip() == "ok" for a in answers)
        failure = failure or next((repr(a)[:200] for a in answers if not isinstance(a, dict)), "")
        used = round(available - mem_available_mb(), 1)
        await client.delete(*ids, parallel=16)
    held = f"≥ {alive} (stopped at the cap)" if alive == DENSITY_CAP else ""
    return [
        Row(
            "memory",
            "local: idle sandboxes held at once",
            "sandboxes",
            value=alive,
            goal=at_least(DENSITY_CAP, f"≥ {DENSITY_CAP}"),
            note=held or f"first failure: {failure}",
        ),
        Row("memory", f"local: host memory used by {alive} idle sandboxes", "MB", value=used),
        Row("memory", f"local: time to start {alive} idle sandboxes", "s", value=elapsed),
    ]


async def _fill(client: Api) -> tuple[list[str], str]:
    ids: list[str] = []
    while len(ids) < DENSITY_CAP:
        batch = await asyncio.gather(*(_idle_one(client) for _ in range(BATCH)))
        ids += [sandbox_id for sandbox_id, _ in batch if sandbox_id]
        errors = [error for _, error in batch if error]
        if errors:
            return ids, errors[0]
    return ids, ""
