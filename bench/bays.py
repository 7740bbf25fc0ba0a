"""Bays for the bench: real `bay serve` processes on loopback with temp data dirs."""

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.bay_process import API_KEY, BayProcess, traversable_tmp

PROFILE = "python-default"


def config(pool_size: int = 0, preload: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    """GC off (it would only add noise), a cargo big enough for 1 GiB, one profile."""
    profile = {"id": PROFILE, "warm_pool_size": pool_size, "idle_timeout": 86400}
    if preload:
        profile["preload"] = preload
    return {
        "instance_id": f"bench-{uuid.uuid4().hex[:8]}",
        "gc": {"enabled": False, "run_on_startup": False},
        "cargo": {"default_size_limit_mb": 1536},
        "warm_pool": {"interval_seconds": 600, "refill_concurrency": 2},
        "profiles": [profile],
        **extra,
    }


def variant(driver: str) -> tuple[str, str | None]:
    """`docker+runsc` -> ("docker", "runsc"): a driver, and the runtime its profile asks for."""
    engine, _, runtime = driver.partition("+")
    return engine, runtime or None


@contextmanager
def running(driver: str, settings: dict[str, Any]) -> Iterator[BayProcess]:
    """A Bay on its own data dir; stopped (its pool drained) and swept afterwards."""
    engine, runtime = variant(driver)
    if runtime is not None:
        profiles = [{**profile, "runtime": runtime} for profile in settings["profiles"]]
        settings = {**settings, "profiles": profiles}
    with traversable_tmp() as base:
        bay = BayProcess(base / "data", settings, driver=engine)
        bay.start()
        try:
            yield bay
        finally:
            bay.stop(timeout=180)
            sweep(bay.data_dir, str(settings["instance_id"]))


def sweep(data_dir: Path, instance_id: str) -> None:
    """Whatever a Bay killed mid-shutdown left running: local sandboxes and containers."""
    for record in (data_dir / "run").glob("*/session.json"):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            session = json.loads(record.read_text())
            # The namespace's init first (everything in the sandbox dies with it), then bwrap.
            for pid in (int(session["child_pid"]), int(session["pid"])):
                if b"bwrap" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)
    label = f"label=bay.instance_id={instance_id}"
    listed = subprocess.run(
        ["docker", "ps", "-aq", "--filter", label], capture_output=True, text=True, check=False
    )
    if listed.returncode == 0 and listed.stdout.split():
        subprocess.run(["docker", "rm", "-f", *listed.stdout.split()], capture_output=True)


class Api:
    """The calls scenarios make, on one pooled async client."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.http = client

    async def create(self, **body: Any) -> str:
        response = await self.http.post("/v1/sandboxes", json=body)
        response.raise_for_status()
        return str(response.json()["id"])

    async def python(self, sandbox_id: str, code: str) -> dict[str, Any]:
        body = {"code": code, "timeout": 120}
        response = await self.http.post(f"/v1/sandboxes/{sandbox_id}/python/exec", json=body)
        response.raise_for_status()
        return dict(response.json())

    async def shell(self, sandbox_id: str, command: str) -> dict[str, Any]:
        body = {"command": command, "timeout": 120}
        response = await self.http.post(f"/v1/sandboxes/{sandbox_id}/shell/exec", json=body)
        response.raise_for_status()
        return dict(response.json())

    async def delete(self, *sandbox_ids: str, parallel: int = 8) -> None:
        """Delete, retrying once; what still fails is said (the sweep at the end kills it)."""
        gate = asyncio.Semaphore(parallel)

        async def one(sandbox_id: str) -> bool:
            async with gate:
                for _ in range(2):
                    with contextlib.suppress(httpx.TransportError):
                        response = await self.http.delete(f"/v1/sandboxes/{sandbox_id}")
                        if response.status_code == 204:
                            return True
                return False

        done = await asyncio.gather(*(one(sandbox_id) for sandbox_id in sandbox_ids))
        if not all(done):
            print(f"bench: {done.count(False)} sandboxes could not be deleted", flush=True)

    async def pool(self) -> dict[str, Any]:
        status = (await self.http.get("/v1/admin/gc/status")).json()
        return dict(status["warm_pool"])

    async def wait_for_pool(
        self, depth: int, timeout: float = 300, profile_id: str = PROFILE
    ) -> None:
        """Until the pool holds `depth` ready members and warms no more (not timed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            profile = (await self.pool())["profiles"][profile_id]
            if profile["available"] >= depth and profile["warming"] == 0:
                return
            await asyncio.sleep(0.05)
        raise TimeoutError(f"the warm pool did not reach {depth}")

    async def first_result(self) -> tuple[float, str | None, bool]:
        """Time-to-interactive: create, then the first `print(1)`; (seconds, id, ok)."""
        started = time.perf_counter()
        sandbox_id = None
        try:
            sandbox_id = await self.create()
            result = await self.python(sandbox_id, "print(1)")
            ok = result.get("output") == "1"
        except httpx.HTTPError:
            ok = False
        return time.perf_counter() - started, sandbox_id, ok


@asynccontextmanager
async def api(bay: BayProcess) -> AsyncIterator[Api]:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    # Idle connections expire before uvicorn's 5 s keep-alive closes them under a request.
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256, keepalive_expiry=2.0)
    async with httpx.AsyncClient(
        base_url=bay.url, headers=headers, timeout=600, limits=limits
    ) as client:
        yield Api(client)
