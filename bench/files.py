"""1 GiB through Bay: upload and download throughput, and Bay's peak RSS meanwhile."""

import asyncio
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.bays import Api, api, config, running
from bench.model import Row
from bench.procs import rss_mb
from tests.bay_process import BayProcess

SIZE = 1024**3
BLOCK = 1024**2


def scenario(drivers: list[str]) -> list[Row]:
    with running("local", config()) as bay, _payload() as payload:
        return asyncio.run(_measure(bay, payload))


@contextmanager
def _payload() -> Iterator[Path]:
    block = os.urandom(BLOCK)
    with tempfile.NamedTemporaryFile(prefix="bench-", suffix=".bin") as handle:
        for _ in range(SIZE // BLOCK):
            handle.write(block)
        handle.flush()
        yield Path(handle.name)


class _RssWatch:
    """Samples a process's RSS every 20 ms on a thread; `peak` is the largest seen."""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self._done = threading.Event()
        self.peak = 0.0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._done.wait(0.02):
            self.peak = max(self.peak, rss_mb(self._pid))

    def __enter__(self) -> "_RssWatch":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()


async def _measure(bay: BayProcess, payload: Path) -> list[Row]:
    assert bay.pid is not None  # noqa: S101 - a running Bay has a pid
    async with api(bay) as client:
        sandbox_id = await client.create()
        await client.shell(sandbox_id, "true")
        before = rss_mb(bay.pid)
        with _RssWatch(bay.pid) as up_watch:
            up = await _upload(client, sandbox_id, payload)
        with _RssWatch(bay.pid) as down_watch:
            down, received = await _download(client, sandbox_id)
        await client.delete(sandbox_id)
    mib = SIZE / 1024**2
    return [
        Row("files", "1 GiB upload through Bay", "MiB/s", value=round(mib / up, 1)),
        Row(
            "files",
            "1 GiB download through Bay",
            "MiB/s",
            value=round(mib / down, 1),
            errors=int(received != SIZE),
        ),
        Row("files", "Bay RSS before", "MB", value=before),
        Row("files", "Bay peak RSS during upload", "MB", value=up_watch.peak),
        Row("files", "Bay peak RSS during download", "MB", value=down_watch.peak),
    ]


async def _upload(client: Api, sandbox_id: str, payload: Path) -> float:
    url = f"/v1/sandboxes/{sandbox_id}/filesystem/upload"
    started = time.perf_counter()
    with payload.open("rb") as handle:
        files = {"file": ("big.bin", handle, "application/octet-stream")}
        response = await client.http.post(url, files=files, data={"path": "big.bin"})
    response.raise_for_status()
    return time.perf_counter() - started


async def _download(client: Api, sandbox_id: str) -> tuple[float, int]:
    url = f"/v1/sandboxes/{sandbox_id}/filesystem/download"
    started = time.perf_counter()
    received = 0
    async with client.http.stream("GET", url, params={"path": "big.bin"}) as response:
        response.raise_for_status()
        async for chunk in response.aiter_raw():
            received += len(chunk)
    return time.perf_counter() - started, received
