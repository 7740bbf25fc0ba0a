"""Crash consistency on every driver: Bay killed with SIGKILL in the middle of work loses
nothing: the exec it was running finishes and is recorded, a file being replaced keeps its
old content, and the sandbox's state is there for the Bay that comes back."""

import os
import signal
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.bay_process import BayProcess, serving
from tests.engines import IMAGE, VARIANT_PARAMS, require
from tests.security.test_api_abuse import new_sandbox, post_ignoring_errors, until

pytestmark = [pytest.mark.timeout(600)]


@pytest.fixture(scope="module", params=VARIANT_PARAMS)
def bay(request: pytest.FixtureRequest) -> Iterator[BayProcess]:
    variant = require(request.param)
    profile: dict[str, Any] = {"id": "crash", "image": IMAGE}
    if variant == "docker+runsc":
        profile |= {"runtime": "runsc", "resources": {"pids": 512, "memory": "1g"}}
    config = {
        # Its own id: a Bay's reconcile stops the containers of its id it has no row for.
        "instance_id": f"crash-{uuid.uuid4().hex[:8]}",
        "profiles": [profile],
        "gc": {"enabled": False, "run_on_startup": False},
    }
    with serving(config, "local" if variant == "local" else "docker") as server:
        yield server


def kill_and_restart(bay: BayProcess) -> None:
    os.kill(bay.pid or 0, signal.SIGKILL)
    bay.stop()
    bay.start()


def test_bay_killed_mid_exec_keeps_the_exec_and_its_row(bay: BayProcess) -> None:
    with bay.client() as client:
        sandbox = new_sandbox(client, profile="crash")
        first = client.post(f"/v1/sandboxes/{sandbox}/python/exec", json={"code": "x = 41"})
        assert first.json()["success"], first.text
        history = f"/v1/sandboxes/{sandbox}/history"
        # The exec waits for a file written only after Bay came back.
        command = "until [ -e go ]; do sleep 0.05; done; echo finished"
        body = {"command": command, "timeout": 120}
        url = f"/v1/sandboxes/{sandbox}/shell/exec"
        threading.Thread(target=post_ignoring_errors, args=(bay, url, body)).start()
        running = until(lambda: _running(client.get(history).json()["entries"]))
        execution_id = running["id"]
    kill_and_restart(bay)
    with bay.client() as client:
        put = client.put(
            f"/v1/sandboxes/{sandbox}/filesystem/files", json={"path": "go", "content": ""}
        )
        assert put.status_code == 200, put.text
        status = f"/v1/sandboxes/{sandbox}/executions/{execution_id}"
        until(lambda: client.get(status).json().get("status") == "finished")
        entry = client.get(f"{history}/{execution_id}").json()
        assert (entry["status"], entry["output"]) == ("finished", "finished")
        kept = client.post(f"/v1/sandboxes/{sandbox}/python/exec", json={"code": "print(x + 1)"})
        assert kept.json()["output"] == "42", kept.text  # the same kernel, re-attached


def test_bay_killed_mid_upload_keeps_the_file(bay: BayProcess) -> None:
    original = os.urandom(64 * 1024)
    with bay.client() as client:
        sandbox = new_sandbox(client, profile="crash")
        upload = f"/v1/sandboxes/{sandbox}/filesystem/upload"
        first = client.post(upload, files={"file": ("f", original)}, data={"path": "data.bin"})
        assert first.status_code == 200, first.text
    sent = threading.Event()
    killed = threading.Event()
    sender = threading.Thread(target=_upload_until_killed, args=(bay, upload, sent, killed))
    sender.start()
    assert sent.wait(60), "the replacement upload never started"
    kill_and_restart(bay)
    killed.set()
    sender.join(60)
    with bay.client() as client:
        download = client.get(
            f"/v1/sandboxes/{sandbox}/filesystem/download", params={"path": "data.bin"}
        )
        assert download.content == original
        listing = client.get(f"/v1/sandboxes/{sandbox}/filesystem/directories")
        names = [entry["name"] for entry in listing.json()["entries"]]
        assert names == ["data.bin"], names  # nothing half-written left beside it


def _running(entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((entry for entry in entries if entry["status"] == "running"), None)


def _upload_until_killed(
    bay: BayProcess, url: str, sent: threading.Event, killed: threading.Event
) -> None:
    """A multipart upload over data.bin whose body stops midway until Bay is gone."""
    boundary = "crash-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="path"\r\n\r\ndata.bin\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()

    def body() -> Iterator[bytes]:
        yield head
        yield b"x" * (1024 * 1024)
        sent.set()
        killed.wait(120)
        yield b"y" * (1024 * 1024)
        yield f"\r\n--{boundary}--\r\n".encode()

    headers: dict[str, Any] = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    try:
        with bay.client() as client:
            client.post(url, content=body(), headers=headers)
    except httpx.HTTPError:
        return
