"""PostgreSQL next to SQLite (warm exec latency), and two Bay replicas next to one (throughput).

Both on the local driver. The PostgreSQL server is a throwaway one on this machine
(tests/postgres.py: Debian's `postgresql`, durability off as in the tests); replicas share one
data dir and one database, as replicas on one machine do.
"""

import asyncio
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from typing import Any

from bench.bays import Api, api, config, sweep
from bench.model import Row, at_most, ms
from tests import postgres
from tests.bay_process import BayProcess, traversable_tmp

ROUNDS = 300
WARMUP = 20
AT_ONCE = 50
THROUGHPUT_ROUNDS = 10
PG_GOAL = 1.3


def scenario(drivers: list[str]) -> list[Row]:
    reason = postgres.missing()
    if reason is not None:
        return [Row("databases", f"skipped: {reason}", "")]
    with postgres.cluster() as server:
        with bays(server, [None, "new"]) as (on_sqlite, on_postgres):
            rows = asyncio.run(_latency(on_sqlite, on_postgres))
        with bays(server, ["new", "same"], shared=True) as (first, second):
            rows += asyncio.run(_throughput(first, second))
    return rows


@contextmanager
def bays(
    server: postgres.Server, databases: list[str | None], shared: bool = False
) -> Iterator[list[BayProcess]]:
    """A Bay per entry: None on SQLite, "new" on a new PostgreSQL database, "same" on the one
    before; each on its own data dir, or (`shared`) replicas on one."""
    settings = {k: v for k, v in config().items() if k != "instance_id"}
    with traversable_tmp() as base:
        started: list[BayProcess] = []
        database: str | None = None
        try:
            for n, url in enumerate(databases):
                data = base / ("data" if shared else f"data-{n}")
                if url != "same":
                    database = postgres.fresh_database(server) if url == "new" else url
                bay = BayProcess(data, settings, database_url=database, name=f"bench-{n}")
                started.append(bay)
                bay.start()
            yield started
        finally:
            for bay in reversed(started):
                bay.stop(timeout=180)
                sweep(bay.data_dir, bay.instance_id)


async def _latency(on_sqlite: BayProcess, on_postgres: BayProcess) -> list[Row]:
    """Warm `print(i)` rounds, interleaved so both see the same noise."""
    seconds: dict[str, list[float]] = {"sqlite": [], "postgres": []}
    wrong = 0
    async with AsyncExitStack() as stack:
        clients = {
            "sqlite": await stack.enter_async_context(api(on_sqlite)),
            "postgres": await stack.enter_async_context(api(on_postgres)),
        }
        sandboxes = {name: await client.create() for name, client in clients.items()}
        for i in range(WARMUP + ROUNDS):
            for name, client in clients.items():
                started = time.perf_counter()
                result = await client.python(sandboxes[name], f"print({i})")
                if i >= WARMUP:
                    seconds[name].append(time.perf_counter() - started)
                wrong += result.get("output") != str(i)
        for name, client in clients.items():
            await client.delete(sandboxes[name])
    return _latency_rows(seconds, wrong)


def _latency_rows(seconds: dict[str, list[float]], wrong: int) -> list[Row]:
    p50 = {name: sorted(values)[len(values) // 2] for name, values in seconds.items()}
    ratio = round(p50["postgres"] / p50["sqlite"], 2)
    goal = at_most(PG_GOAL, f"≤ {PG_GOAL} x SQLite")
    return [
        Row("databases", "local: warm python exec, SQLite", "ms", ms(seconds["sqlite"])),
        Row("databases", "local: warm python exec, PostgreSQL", "ms", ms(seconds["postgres"])),
        Row("databases", "PostgreSQL / SQLite (p50)", "x", value=ratio, goal=goal, errors=wrong),
    ]


async def _throughput(first: BayProcess, second: BayProcess) -> list[Row]:
    """50 sandboxes executing at once through one replica, then through two (PostgreSQL)."""
    async with api(first) as one, api(second) as two:
        made = await asyncio.gather(*(one.first_result() for _ in range(AT_ONCE)))
        ids = [sandbox_id for _, sandbox_id, ok in made if sandbox_id and ok]
        alone = await _rate(ids, [one])
        together = await _rate(ids, [one, two])
        await one.delete(*ids)
    errors = AT_ONCE - len(ids) + alone["errors"] + together["errors"]
    gain = round(together["rate"] / alone["rate"], 2)
    return [
        Row(
            "databases",
            f"python execs/s, {len(ids)} sandboxes, 1 replica",
            "/s",
            value=alone["rate"],
        ),
        Row(
            "databases",
            f"python execs/s, {len(ids)} sandboxes, 2 replicas",
            "/s",
            value=together["rate"],
            errors=errors,
        ),
        Row("databases", "2 replicas / 1 replica (throughput)", "x", value=gain),
    ]


async def _rate(ids: list[str], replicas: list[Api]) -> dict[str, Any]:
    """Execs per second over THROUGHPUT_ROUNDS rounds of one exec in every sandbox at once;
    sandbox i goes to replica i mod n, as a balancer spreading clients would."""
    errors = 0

    async def one(n: int, sandbox_id: str, round_: int) -> None:
        nonlocal errors
        result = await replicas[n % len(replicas)].python(sandbox_id, f"print({round_})")
        errors += result.get("output") != str(round_)

    started = time.perf_counter()
    for round_ in range(THROUGHPUT_ROUNDS):
        await asyncio.gather(*(one(n, sandbox_id, round_) for n, sandbox_id in enumerate(ids)))
    rate = round(len(ids) * THROUGHPUT_ROUNDS / (time.perf_counter() - started), 1)
    return {"rate": rate, "errors": errors}
