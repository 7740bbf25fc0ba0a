"""Warm exec round trips through Bay, next to the same call straight to a host kernel/bash."""

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench.baselines import RawKernel, raw_kernel, raw_shell
from bench.bays import Api, api, config, running
from bench.model import Row, at_most, ms
from tests.bay_process import BayProcess

ROUNDS = 300
WARMUP = 20


class _Series:
    """Latencies of one kind of call, and how many answered wrong."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.wrong = 0

    async def time(self, call: Callable[[], Awaitable[str]], expected: str) -> None:
        started = time.perf_counter()
        output = await call()
        self.seconds.append(time.perf_counter() - started)
        self.wrong += output != expected

    @property
    def p50_ms(self) -> float:
        return sorted(self.seconds)[len(self.seconds) // 2] * 1000


def scenario(drivers: list[str]) -> list[Row]:
    rows: list[Row] = []
    for driver in drivers:
        with running(driver, config()) as bay:
            rows += asyncio.run(_measure(bay, driver))
    return rows


async def _measure(bay: BayProcess, driver: str) -> list[Row]:
    async with api(bay) as client, raw_kernel() as kernel:
        sandbox_id = await client.create()
        series = {name: _Series() for name in ("bay_py", "raw_py", "bay_sh", "raw_sh")}
        for i in range(WARMUP + ROUNDS):
            if i == WARMUP:
                series = {name: _Series() for name in series}
                cpu_before = cpu_seconds(bay.pid)
            # Interleaved, so Bay and the baselines see the same noise.
            await _round(client, kernel, sandbox_id, series, i)
        cpu = cpu_seconds(bay.pid) - cpu_before
        await client.delete(sandbox_id)
    return [*_rows(driver, series), _cpu_row(driver, cpu / (2 * ROUNDS))]


def cpu_seconds(pid: int | None) -> float:
    """User and system CPU the process has used (the baselines never call Bay)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_row(driver: str, per_exec_s: float) -> Row:
    return Row(
        "exec",
        f"{driver}: Bay CPU per warm exec (python and shell)",
        "ms",
        value=round(per_exec_s * 1000, 2),
        goal=at_most(2.0, "≤ 2 ms"),
        note="user + system CPU of the Bay process over the measured rounds",
    )


async def _round(
    client: Api, kernel: RawKernel, sandbox_id: str, series: dict[str, _Series], i: int
) -> None:
    async def bay_python() -> str:
        return str((await client.python(sandbox_id, f"print({i})"))["output"])

    async def bay_shell() -> str:
        return str((await client.shell(sandbox_id, f"echo {i}"))["output"]).strip()

    await series["bay_py"].time(bay_python, str(i))
    await series["raw_py"].time(lambda: kernel.run(f"print({i})"), str(i))
    await series["bay_sh"].time(bay_shell, str(i))
    await series["raw_sh"].time(lambda: raw_shell(f"echo {i}"), str(i))


def _rows(driver: str, series: dict[str, _Series]) -> list[Row]:
    raw_py, raw_sh = series["raw_py"].p50_ms, series["raw_sh"].p50_ms
    added = 4 if driver.startswith("docker") else 3
    limit = raw_py + added
    goal = at_most(limit, f"p50 ≤ raw kernel + {added} ms ({limit:.1f} ms)")
    shell_limit = raw_sh + 3
    shell_goal = at_most(shell_limit, f"p50 ≤ raw bash + 3 ms ({shell_limit:.1f} ms)")
    py_ratio = round(series["bay_py"].p50_ms / raw_py, 2)
    sh_ratio = round(series["bay_sh"].p50_ms / raw_sh, 2)
    return [
        Row(
            "exec",
            f"{driver}: python via Bay",
            "ms",
            ms(series["bay_py"].seconds),
            goal=goal,
            errors=series["bay_py"].wrong,
        ),
        Row(
            "exec",
            "raw kernel (host, jupyter_client)",
            "ms",
            ms(series["raw_py"].seconds),
            errors=series["raw_py"].wrong,
        ),
        Row("exec", f"{driver}: python Bay / raw kernel (p50)", "x", value=py_ratio),
        Row(
            "exec",
            f"{driver}: shell via Bay",
            "ms",
            ms(series["bay_sh"].seconds),
            goal=shell_goal,
            errors=series["bay_sh"].wrong,
        ),
        Row(
            "exec",
            "raw `bash -lc` (host)",
            "ms",
            ms(series["raw_sh"].seconds),
            errors=series["raw_sh"].wrong,
        ),
        Row("exec", f"{driver}: shell Bay / raw bash (p50)", "x", value=sh_ratio),
    ]
