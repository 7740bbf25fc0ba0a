"""The sandbox environment: preloaded warm sandboxes, the first pandas import, the rootfs."""

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

from bench.bays import api, config, running, variant
from bench.model import Row, at_most, ms
from tests.bay_process import REPO, BayProcess, sandbox_rootfs

SEQUENTIAL = 20
POOL = 4
PRELOAD = ["numpy", "pandas", "matplotlib.pyplot"]
# In-process seconds of the import, printed by the code itself: no Bay, no Ship in it.
TIMED_IMPORT = "import time; t = time.perf_counter(); import pandas; print(time.perf_counter() - t)"


def scenario(drivers: list[str]) -> list[Row]:
    rows: list[Row] = []
    for driver in [d for d in drivers if variant(d)[1] is None]:
        with running(driver, config(pool_size=POOL, preload=PRELOAD)) as bay:
            rows += asyncio.run(_preloaded(bay, driver))
        with running(driver, config()) as bay:
            rows += asyncio.run(_cold_import(bay, driver))
    return rows + _outside_import() + _rootfs()


async def _preloaded(bay: BayProcess, driver: str) -> list[Row]:
    """create -> `import pandas; print(1)` on a warm pool whose kernels preloaded pandas."""
    samples, errors = [], 0
    async with api(bay) as client:
        for _ in range(SEQUENTIAL):
            await client.wait_for_pool(POOL)
            started = time.perf_counter()
            sandbox_id = await client.create()
            result = await client.python(sandbox_id, "import pandas; print(1)")
            samples.append(time.perf_counter() - started)
            errors += result.get("output") != "1"
            await client.delete(sandbox_id)
    goal = at_most(40, "p50 ≤ 40 ms")
    metric = f"{driver} warm pool, preload: create -> import pandas; print(1)"
    return [Row("environment", metric, "ms", ms(samples), goal=goal, errors=errors)]


async def _cold_import(bay: BayProcess, driver: str) -> list[Row]:
    """The first `import pandas` in a kernel that has imported nothing (no preload)."""
    samples: list[float] = []
    errors = 0
    async with api(bay) as client:
        for _ in range(SEQUENTIAL // 2):
            sandbox_id = await client.create()
            await client.python(sandbox_id, "print(1)")  # the kernel is up
            samples, errors = _timed(await client.python(sandbox_id, TIMED_IMPORT), samples, errors)
            await client.delete(sandbox_id)
    metric = f"{driver}: first import pandas in a cold kernel"
    return [Row("environment", metric, "ms", ms(samples), errors=errors)]


def _timed(result: dict[str, object], samples: list[float], errors: int) -> tuple[list[float], int]:
    try:
        return [*samples, float(str(result.get("output")))], errors
    except ValueError:
        return samples, errors + 1


def _outside_import() -> list[Row]:
    """The same import by the environment's python3 with no sandbox around it: its root bound
    as `/` and nothing else (no namespaces but the mount, no filter, no cgroup)."""
    rootfs = sandbox_rootfs()
    if rootfs is None:
        return []
    argv = [
        "bwrap",
        "--bind",
        str(rootfs),
        "/",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",  # noqa: S108 - a tmpfs of its own
    ]
    samples = []
    for _ in range(SEQUENTIAL // 2):
        done = subprocess.run(
            [*argv, "python3", "-c", TIMED_IMPORT], capture_output=True, text=True, check=False
        )
        samples.append(float(done.stdout))
    metric = "first import pandas, the same python3 outside any sandbox"
    return [Row("environment", metric, "ms", ms(samples))]


def _rootfs() -> list[Row]:
    """`make rootfs` with nothing changed, the size of what it built, and its first build."""
    rootfs = sandbox_rootfs()
    if rootfs is None:
        return []
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "sandbox_env.py"), "rootfs"],
        capture_output=True,
        check=True,
    )
    rebuild = time.perf_counter() - started
    size = subprocess.run(
        ["du", "-sb", str(rootfs.resolve())], capture_output=True, text=True, check=True
    )
    rows = [
        Row(
            "environment",
            "rootfs: rebuild with nothing changed",
            "s",
            value=round(rebuild, 2),
            goal=at_most(5, "≤ 5 s"),
        ),
        Row("environment", "rootfs: size", "GB", value=round(int(size.stdout.split()[0]) / 1e9, 2)),
    ]
    built = _build_record()
    if built:
        seconds, steps = built
        rows.append(Row("environment", "rootfs: first build (env)", "s", value=seconds, note=steps))
    return rows


def _build_record() -> tuple[float, str] | None:
    """What sandbox_env.py recorded when it built the environment under this root filesystem."""
    try:
        env = Path((REPO / ".tools" / "sandbox" / "env").readlink())
        record = json.loads(env.with_name(f"{env.name}.build.json").read_text())
    except (OSError, ValueError):
        return None
    steps = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in record["steps"].items())
    return round(float(record["seconds"]), 1), steps
