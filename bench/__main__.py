"""`python -m bench [--scenario tti,exec] [--drivers local,docker]`: measure, then report."""

import argparse
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime

from bench import (
    baselines,
    browser,
    databases,
    egress,
    environment,
    execs,
    files,
    load,
    memory,
    ports,
    report,
    tti,
)
from bench.model import Row
from tests.engines import unavailable

Scenario = Callable[[list[str]], list[Row]]
# docker+runsc: the Docker driver with a `runtime: runsc` (gVisor) profile, in tti and exec.
DEFAULT_DRIVERS = ("local", "docker", "docker+runsc")
SCENARIOS: dict[str, Scenario] = {
    "baseline": lambda drivers: baselines.scenario(),
    "tti": tti.scenario,
    "exec": execs.scenario,
    "memory": memory.scenario,
    "files": files.scenario,
    "concurrency": load.concurrency,
    "soak": load.soak,
    "environment": environment.scenario,
    "ports": ports.scenario,
    "databases": databases.scenario,
    "egress": egress.scenario,
    "browser": browser.scenario,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    parser.add_argument("--scenario", default="", help=f"comma list of {', '.join(SCENARIOS)}")
    parser.add_argument(
        "--drivers", default="", help=f"comma list (default: {','.join(DEFAULT_DRIVERS)})"
    )
    return parser


def _drivers(wanted: str) -> list[str]:
    chosen = wanted.split(",") if wanted else list(DEFAULT_DRIVERS)
    usable = []
    for driver in chosen:
        reason = unavailable(driver)
        if reason:
            print(f"bench: skipping the {driver} driver: {reason}", flush=True)
        else:
            usable.append(driver)
    return usable


def _meta(started: float) -> dict[str, object]:
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, check=False
    ).stdout.strip()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    machine = f"{os.cpu_count()} cores, {memory:.0f} GiB, {platform.platform()}"
    return {
        "machine": machine,
        "commit": commit or "unknown",
        "python": sys.version.split()[0],
        "finished": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "duration_s": round(time.monotonic() - started),
    }


def _run(name: str, drivers: list[str]) -> list[Row]:
    """A scenario's rows; one that crashes reports that, and the others still run."""
    try:
        return SCENARIOS[name](drivers)
    except Exception as exc:  # noqa: BLE001 - the process edge: one failure must not end a run
        traceback.print_exc()
        return [Row(name, f"scenario failed: {exc!r}"[:200], "", errors=1)]


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    names = args.scenario.split(",") if args.scenario else list(SCENARIOS)
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        raise SystemExit(f"bench: unknown scenario {unknown}; choose from {list(SCENARIOS)}")
    drivers = _drivers(args.drivers)
    started = time.monotonic()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    rows: list[Row] = []
    for name in names:
        print(f"bench: {name} ...", flush=True)
        began = time.monotonic()
        rows += _run(name, drivers)
        print(f"bench: {name} done in {time.monotonic() - began:.0f} s", flush=True)
        table = report.publish(rows, _meta(started), stamp)  # a crash later keeps these
    print(table)
    print(f"bench: finished in {time.monotonic() - started:.0f} s; see bench/README.md")


if __name__ == "__main__":
    main()
