"""Time-to-interactive: create -> first `print(1)` result, per driver, warm pool off and on."""

import asyncio
import time

from bench.bays import Api, api, config, running, variant
from bench.model import Goal, Row, at_most, ms
from tests.bay_process import BayProcess

SEQUENTIAL = 30
BURST = 50
COLD_GOALS = {"local": at_most(700, "p50 ≤ 700 ms"), "docker": at_most(1000, "p50 ≤ 1000 ms")}
WARM_GOAL = at_most(20, "p50 ≤ 20 ms")
WARM_BURST_GOAL = at_most(400, "p50 ≤ 400 ms")


def scenario(drivers: list[str]) -> list[Row]:
    rows: list[Row] = []
    for driver in drivers:
        if variant(driver)[1] is not None:
            # A runtime variant (gVisor): cold and sequential only, or the run takes too long.
            with running(driver, config()) as bay:
                rows += asyncio.run(_cold_sequential(bay, driver))
            continue
        with running(driver, config()) as bay:
            rows += asyncio.run(_measure(bay, driver, warm=False))
        with running(driver, config(pool_size=BURST)) as bay:
            rows += asyncio.run(_measure(bay, driver, warm=True))
    return rows


async def _cold_sequential(bay: BayProcess, driver: str) -> list[Row]:
    async with api(bay) as client:
        seq, errors = await _sequential(client, None)
    return [Row("tti", f"{driver} cold: sequential", "ms", ms(seq), errors=errors)]


async def _measure(bay: BayProcess, driver: str, warm: bool) -> list[Row]:
    async with api(bay) as client:
        depth = BURST if warm else None
        seq, seq_errors = await _sequential(client, depth)
        if depth:
            await client.wait_for_pool(depth)
        before = await client.pool()
        burst, wall, burst_errors = await _burst(client)
        after = await client.pool()
    mode = "warm pool" if warm else "cold"
    hits = f"hits {after['hits'] - before['hits']}/{BURST}" if warm else ""
    seq_goal: Goal = WARM_GOAL if warm else COLD_GOALS[driver]
    return [
        Row("tti", f"{driver} {mode}: sequential", "ms", ms(seq), goal=seq_goal, errors=seq_errors),
        Row(
            "tti",
            f"{driver} {mode}: burst of {BURST}",
            "ms",
            ms(burst),
            goal=WARM_BURST_GOAL if warm else None,
            errors=burst_errors,
            note=hits,
        ),
        Row("tti", f"{driver} {mode}: burst of {BURST}, all done", "s", value=round(wall, 2)),
    ]


async def _sequential(client: Api, depth: int | None) -> tuple[list[float], int]:
    """One at a time; with a pool, each create finds it full again (refill is not timed)."""
    samples, errors = [], 0
    for _ in range(SEQUENTIAL):
        if depth:
            await client.wait_for_pool(depth)
        elapsed, sandbox_id, ok = await client.first_result()
        samples.append(elapsed)
        errors += not ok
        if sandbox_id:
            await client.delete(sandbox_id)
    return samples, errors


async def _burst(client: Api) -> tuple[list[float], float, int]:
    started = time.perf_counter()
    results = await asyncio.gather(*(client.first_result() for _ in range(BURST)))
    wall = time.perf_counter() - started
    await client.delete(*[sandbox_id for _, sandbox_id, _ in results if sandbox_id])
    errors = sum(not ok for _, _, ok in results)
    return [elapsed for elapsed, _, _ in results], wall, errors
