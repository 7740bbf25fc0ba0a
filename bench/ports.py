"""A sandbox port through Bay (`…/ports/{port}/`) next to the same server reached directly:
added latency of a small GET, and the throughput of a large body."""

import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from bench.bays import Api, api, config, running
from bench.model import Row, at_least, at_most, ms
from tests.bay_process import BayProcess

ROUNDS = 300
WARMUP = 20
LARGE = 256 * 1024**2
LARGE_TRIES = 3
PORT = 8000
SERVE = "python3 -m http.server {port} --bind 127.0.0.1"
IMAGE = os.environ.get("SHIP_IMAGE")


def scenario(drivers: list[str]) -> list[Row]:
    rows: list[Row] = []
    with _host_server() as direct:
        for driver in drivers:
            with running(driver, _config()) as bay:
                rows += asyncio.run(_measure(bay, driver, direct))
    return rows


def _config() -> dict[str, Any]:
    """The bench's Bay; Docker profiles run `SHIP_IMAGE` when set (an image with this Ship)."""
    settings = config()
    if IMAGE:
        settings["profiles"] = [{**p, "image": IMAGE} for p in settings["profiles"]]
    return settings


@contextlib.contextmanager
def _host_server() -> Iterator[str]:
    """The same `http.server` on the host, over the same files: the direct baseline."""
    with tempfile.TemporaryDirectory(prefix="bench-ports-") as root:
        _files(Path(root))
        port = _free_port()
        argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
        with subprocess.Popen(argv, cwd=root, stderr=subprocess.DEVNULL) as server:
            try:
                url = f"http://127.0.0.1:{port}/"
                _wait_listening(port)
                yield url
            finally:
                server.terminate()


def _files(root: Path) -> None:
    (root / "small.txt").write_bytes(b"x" * 100)
    with (root / "large.bin").open("wb") as large:
        large.truncate(LARGE)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_listening(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


async def _measure(bay: BayProcess, driver: str, direct: str) -> list[Row]:
    async with api(bay) as client, httpx.AsyncClient(timeout=600) as plain:
        sandbox_id = await _serving(client)
        proxied = f"{bay.url}/v1/sandboxes/{sandbox_id}/ports/{PORT}/"
        bay_s, direct_s = await _latencies(client.http, proxied, plain, direct)
        bay_mbs = await _throughput(client.http, proxied)
        direct_mbs = await _throughput(plain, direct)
        await client.delete(sandbox_id)
    added = statistics.median(bay_s) - statistics.median(direct_s)
    return [
        Row("ports", f"{driver}: GET 100 B via Bay", "ms", ms(bay_s)),
        Row("ports", "GET 100 B direct (host http.server)", "ms", ms(direct_s)),
        Row(
            "ports",
            f"{driver}: added latency (p50 via Bay - p50 direct)",
            "ms",
            value=round(added * 1000, 2),
            goal=at_most(2, "≤ 2 ms"),
        ),
        Row(
            "ports",
            f"{driver}: 256 MiB GET via Bay",
            "MB/s",
            value=bay_mbs,
            goal=at_least(200, "≥ 200 MB/s"),
            note=f"best of {LARGE_TRIES}",
        ),
        Row("ports", "256 MiB GET direct (host)", "MB/s", value=direct_mbs),
    ]


async def _serving(client: Api) -> str:
    """A sandbox running the same server over the same files."""
    sandbox_id = await client.create()
    await client.shell(
        sandbox_id, f"head -c 100 /dev/zero | tr '\\0' x > small.txt; truncate -s {LARGE} large.bin"
    )
    start = {"command": SERVE.format(port=PORT)}
    started = await client.http.post(f"/v1/sandboxes/{sandbox_id}/processes", json=start)
    started.raise_for_status()
    wait = (
        "python3 -c 'import socket,time\nwhile True:\n  try: socket.create_connection"
        f'(("127.0.0.1", {PORT})).close(); break\n  except OSError: time.sleep(0.02)\''
    )
    await client.shell(sandbox_id, wait)
    return sandbox_id


async def _latencies(
    bay: httpx.AsyncClient, proxied: str, plain: httpx.AsyncClient, direct: str
) -> tuple[list[float], list[float]]:
    """Interleaved, so both see the same noise."""
    bay_s: list[float] = []
    direct_s: list[float] = []
    for i in range(WARMUP + ROUNDS):
        for http, url, samples in ((bay, proxied, bay_s), (plain, direct, direct_s)):
            started = time.perf_counter()
            answer = await http.get(url + "small.txt")
            answer.raise_for_status()
            if i >= WARMUP:
                samples.append(time.perf_counter() - started)
    return bay_s, direct_s


async def _throughput(http: httpx.AsyncClient, base: str) -> float:
    """MB/s (10^6 bytes) of the best of a few large GETs."""
    best = float("inf")
    for _ in range(LARGE_TRIES):
        started = time.perf_counter()
        received = 0
        async with http.stream("GET", base + "large.bin") as answer:
            answer.raise_for_status()
            async for chunk in answer.aiter_raw():
                received += len(chunk)
        if received != LARGE:
            raise RuntimeError(f"received {received} of {LARGE} bytes")
        best = min(best, time.perf_counter() - started)
    return round(LARGE / best / 1e6, 1)
