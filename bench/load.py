"""Load: 50 sandboxes executing at once, and a soak of 7,000 execs in one sandbox."""

import asyncio
import statistics
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.bays import Api, api, config, running
from bench.model import Row, at_most, ms
from bench.procs import Footprint, footprint, local_root
from tests.bay_process import BayProcess

AT_ONCE = 50
ROUNDS = 10
SOAK_PYTHON = 5000
SOAK_SHELL = 2000
DRIFT_WINDOW = 500


def concurrency(drivers: list[str]) -> list[Row]:
    with running("local", config()) as bay:
        return asyncio.run(_concurrency(bay))


def soak(drivers: list[str]) -> list[Row]:
    with running("local", config()) as bay:
        return asyncio.run(_soak(bay))


async def _concurrency(bay: BayProcess) -> list[Row]:
    async with api(bay) as client:
        started = time.perf_counter()
        made = await asyncio.gather(*(client.first_result() for _ in range(AT_ONCE)))
        wall = round(time.perf_counter() - started, 2)
        ids = [sandbox_id for _, sandbox_id, _ in made if sandbox_id]
        tally = _Tally()
        started = time.perf_counter()
        for round_ in range(ROUNDS):
            await asyncio.gather(*(tally.python(client, i, round_) for i in ids))
        rate = round(len(tally.seconds) / (time.perf_counter() - started), 1)
        await client.delete(*ids)
    create_errors = sum(not ok for _, _, ok in made)
    return [
        Row(
            "concurrency",
            f"{AT_ONCE} cold creates + first exec at once: all done",
            "s",
            value=wall,
            goal=at_most(10, "≤ 10 s, 0 errors"),
            errors=create_errors,
        ),
        Row(
            "concurrency",
            f"python exec, {len(ids)} sandboxes at once",
            "ms",
            ms(tally.seconds),
            errors=tally.failures,
            note=tally.summary(),
        ),
        Row("concurrency", f"exec throughput, {len(ids)} sandboxes at once", "execs/s", value=rate),
    ]


@dataclass
class _Tally:
    """Exec latencies and what went wrong: errors, empty outputs, wrong outputs."""

    seconds: list[float] = field(default_factory=list)
    errors: int = 0
    empty: int = 0
    wrong: int = 0

    @property
    def failures(self) -> int:
        return self.errors + self.empty + self.wrong

    def summary(self) -> str:
        return f"errors {self.errors}, empty {self.empty}, wrong {self.wrong}"

    async def python(self, client: Api, sandbox_id: str, value: int) -> None:
        await self._timed(client.python(sandbox_id, f"print({value})"), str(value))

    async def shell(self, client: Api, sandbox_id: str, value: int) -> None:
        await self._timed(client.shell(sandbox_id, f"echo {value}"), str(value))

    async def _timed(self, call: Awaitable[dict[str, Any]], expected: str) -> None:
        started = time.perf_counter()
        try:
            answer = await call
        except httpx.HTTPError:
            self.errors += 1
            return
        self.seconds.append(time.perf_counter() - started)
        output = str(answer.get("output") or "").strip()
        if not answer.get("success"):
            self.errors += 1
        elif not output:
            self.empty += 1
        elif output != expected:
            self.wrong += 1


async def _soak(bay: BayProcess) -> list[Row]:
    async with api(bay) as client:
        sandbox_id = await client.create()
        await client.python(sandbox_id, "pass")
        root = local_root(bay.data_dir, sandbox_id)
        assert root is not None  # noqa: S101 - the session just answered
        start = _footprints(root)
        python, shell = _Tally(), _Tally()
        for i in range(SOAK_PYTHON):
            await python.python(client, sandbox_id, i)
        for i in range(SOAK_SHELL):
            await shell.shell(client, sandbox_id, i)
        end = _footprints(root)
        await client.delete(sandbox_id)
    return _soak_rows(python, shell, start, end)


def _soak_rows(
    python: _Tally, shell: _Tally, start: dict[str, Footprint], end: dict[str, Footprint]
) -> list[Row]:
    return [
        Row(
            "soak",
            f"{SOAK_PYTHON} python execs in one sandbox",
            "ms",
            ms(python.seconds),
            goal=at_most(float("inf"), "0 errors, 0 lost outputs"),
            errors=python.failures,
            note=python.summary(),
        ),
        Row(
            "soak",
            f"{SOAK_SHELL} shell execs in one sandbox",
            "ms",
            ms(shell.seconds),
            goal=at_most(float("inf"), "0 errors, 0 lost outputs"),
            errors=shell.failures,
            note=shell.summary(),
        ),
        Row(
            "soak",
            f"python latency drift (p50 last/first {DRIFT_WINDOW})",
            "x",
            value=_drift(python.seconds),
            goal=at_most(1.2, "≤ 1.2x"),
        ),
        *_growth_rows(start, end),
    ]


def _drift(seconds: list[float]) -> float:
    if len(seconds) < 2 * DRIFT_WINDOW:
        return 1.0
    first = statistics.median(seconds[:DRIFT_WINDOW])
    last = statistics.median(seconds[-DRIFT_WINDOW:])
    return round(last / first, 2)


def _footprints(root: int) -> dict[str, Footprint]:
    return {
        "sandbox": footprint(root),
        "runtime": footprint(root, kernel=False),
        "kernel": footprint(root, kernel=True),
    }


def _growth_rows(start: dict[str, Footprint], end: dict[str, Footprint]) -> list[Row]:
    rows = []
    for part, what in _PARTS.items():
        before, after = start[part].pss_mb, end[part].pss_mb
        rows.append(
            Row(
                "soak",
                f"{what} PSS growth, start → end",
                "%",
                value=round((after - before) / before * 100, 1),
                goal=at_most(10, "≤ 10 %") if part != "kernel" else None,
                note=f"{before} → {after} MB",
            )
        )
    threads = start["sandbox"].threads, end["sandbox"].threads
    note = f"{threads[0]} → {threads[1]}"
    goal = at_most(2, "≤ +2")
    rows.append(
        Row(
            "soak",
            "sandbox threads, end - start",
            "threads",
            value=threads[1] - threads[0],
            goal=goal,
            note=note,
        )
    )
    return rows


_PARTS = {
    "sandbox": "sandbox (everything)",
    "runtime": "runtime (bwrap + Ship)",
    "kernel": "kernel (IPython keeps every input: In, _iN)",
}
