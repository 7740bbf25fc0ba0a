"""A sandbox whose Bay is lost ends itself after its window; a Bay back in time finds it alive.

The window is the profile's idle timeout plus `ship.orphan_grace_seconds`. GC is off in these
Bays: only the heartbeat keeps a live Bay's sessions, as it must when GC is disabled.
"""

import json
import os
import select
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bay.drivers import bwrap
from tests.bay_process import BayProcess, traversable_tmp
from tests.engines import IMAGE, VARIANT_PARAMS, docker, require

IDLE_S = 2


@dataclass(frozen=True)
class Sandbox:
    """One sandbox and how to tell, from the host, that its compute still runs."""

    id: str
    alive: Callable[[], bool]
    wait_ended: Callable[[float], bool]


def config(variant: str, grace_s: float) -> dict[str, Any]:
    profile = {
        "id": "orphan",
        "image": IMAGE,
        "idle_timeout": IDLE_S,
        "runtime": "runsc" if variant == "docker+runsc" else None,
    }
    return {
        # Its own: a Bay's reconcile stops the containers of its instance id that it has no
        # row for, and other Bays may share this dockerd.
        "instance_id": f"orphan-test-{uuid.uuid4().hex[:8]}",
        "profiles": [profile],
        "ship": {"orphan_grace_seconds": grace_s},
        "gc": {"enabled": False, "run_on_startup": False},
    }


@contextmanager
def bay_for(variant: str, grace_s: float) -> Iterator[BayProcess]:
    """A Bay on a fresh data dir. Sandboxes outlive Bay by design, so whatever a test left
    (Bay killed or not) is deleted through a Bay started again on the same data dir."""
    require(variant)
    driver = "local" if variant == "local" else "docker"
    with traversable_tmp() as base:
        server = BayProcess(base / "data", config(variant, grace_s), driver)
        server.start()
        try:
            yield server
        finally:
            if server.pid is None:
                server.start()
            with server.client() as client:
                for item in client.get("/v1/sandboxes", params={"limit": 200}).json()["items"]:
                    client.delete(f"/v1/sandboxes/{item['id']}")
            server.stop()


def run(server: BayProcess, sandbox_id: str, code: str) -> str:
    with server.client() as client:
        response = client.post(
            f"/v1/sandboxes/{sandbox_id}/python/exec", json={"code": code, "timeout": 60}
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True, body
    return str(body["output"])


def new_sandbox(server: BayProcess, variant: str) -> Sandbox:
    with server.client() as client:
        response = client.post("/v1/sandboxes", json={"profile": "orphan"})
    assert response.status_code == 201, response.text
    sandbox_id = str(response.json()["id"])
    run(server, sandbox_id, "x = 41")  # starts its session
    if variant == "local":
        return _local_sandbox(sandbox_id, server.data_dir)
    return _docker_sandbox(sandbox_id)


def _local_sandbox(sandbox_id: str, data_dir: Path) -> Sandbox:
    """bwrap's pid (outside) and the sandbox's pid 1 (bwrap's init), as Bay recorded them."""
    (record_file,) = (data_dir / "run").glob("*/session.json")
    record = json.loads(record_file.read_text())
    processes = [(record["pid"], record["pid_start"]), (record["child_pid"], record["child_start"])]

    def alive() -> bool:
        return any(bwrap.alive(pid, start) for pid, start in processes)

    def wait_ended(timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for pid, _ in processes:
            if not _wait_exit(pid, deadline):
                return False
        return not alive()

    return Sandbox(sandbox_id, alive, wait_ended)


def _wait_exit(pid: int, deadline: float) -> bool:
    """Block until `pid` exits (its pidfd turns readable), not past `deadline`."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([pidfd], [], [], max(0.0, deadline - time.monotonic()))
        return bool(readable)
    finally:
        os.close(pidfd)


def _docker_sandbox(sandbox_id: str) -> Sandbox:
    found = docker("ps", "-aq", "--filter", f"label=bay.sandbox_id={sandbox_id}") or ""
    (container,) = found.split()

    def alive() -> bool:
        return docker("inspect", "--format", "{{.State.Running}}", container) == "true\n"

    def wait_ended(timeout: float) -> bool:
        try:
            done = subprocess.run(
                ["docker", "wait", container], capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            return False
        # Ship stopped on its own: a clean exit, not a kill from outside.
        assert done.stdout.strip() == "0", (done.stdout, done.stderr)
        return True

    return Sandbox(sandbox_id, alive, wait_ended)


def stays_alive(sandbox: Sandbox, seconds: float) -> bool:
    """Watch the sandbox for `seconds` (the span is what is tested, not a wait for an event)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not sandbox.alive():
            return False
        time.sleep(0.5)
    return sandbox.alive()


@pytest.mark.parametrize("variant", VARIANT_PARAMS)
def test_a_lost_bay_leaves_no_sandbox_running(variant: str) -> None:
    grace = 6.0
    window = IDLE_S + grace
    with bay_for(variant, grace) as server:
        sandbox = new_sandbox(server, variant)
        # A live Bay keeps it past its window, with no call from any user and GC off.
        assert stays_alive(sandbox, window + grace / 2)
        assert run(server, sandbox.id, "x + 1") == "42"

        server.kill()
        killed = time.monotonic()
        ended = sandbox.wait_ended(120)
        lived = time.monotonic() - killed

        assert ended, "the sandbox outlived its Bay"
        # Not with Bay, but once its window had passed since Bay's last heartbeat.
        assert lived >= window - grace / 4 - 1, lived


# Re-attaching is the drivers' (gVisor's included) and reconcile's own suites' subject.
@pytest.mark.parametrize("variant", VARIANT_PARAMS[:2])
def test_a_bay_back_within_the_window_finds_the_sandbox_alive(variant: str) -> None:
    grace = 20.0  # a Bay restarts in seconds, even on a busy machine
    window = IDLE_S + grace
    with bay_for(variant, grace) as server:
        sandbox = new_sandbox(server, variant)

        server.kill()
        server.start()

        # The same session: the kernel kept `x`; then the new Bay keeps it past the window.
        assert run(server, sandbox.id, "x + 1") == "42"
        assert stays_alive(sandbox, window + grace / 4)
        assert run(server, sandbox.id, "x + 2") == "43"
