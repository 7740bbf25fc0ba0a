"""`python -m ship` as a real process: Unix socket, readiness on a file descriptor, Bay's token
kept from the sandbox, and the lease from Bay that ends it."""

import hashlib
import os
import select
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.bay_process import free_port

TOKEN = "b" * 64
DIGEST = hashlib.sha256(TOKEN.encode()).hexdigest()
GOOD = {"Authorization": f"Bearer {TOKEN}"}


def wait_ready(fd: int, seconds: float) -> bytes:
    readable, _, _ = select.select([fd], [], [], seconds)
    assert readable, "ship did not report readiness"
    return os.read(fd, 64)


def spawn(workspace: Path, stderr: int, **env: str) -> "tuple[subprocess.Popen[bytes], int]":
    """`python -m ship` on `workspace` with the SHIP_ settings `env`: the process, and the read
    end of the pipe it reports readiness on."""
    read_end, write_end = os.pipe()
    ship_env = {"SHIP_WORKSPACE": str(workspace), "SHIP_READY_FD": str(write_end), **env}
    process = subprocess.Popen(
        [sys.executable, "-m", "ship"],
        env={**os.environ, **ship_env},
        pass_fds=(write_end,),
        stderr=stderr,
    )
    os.close(write_end)
    return process, read_end


def leave_stale_socket(path: Path) -> None:
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()


async def test_serves_health_on_a_unix_socket(tmp_path: Path, workspace: Path) -> None:
    uds = tmp_path / "ship.sock"
    leave_stale_socket(uds)
    process, read_end = spawn(workspace, subprocess.DEVNULL, SHIP_SOCKET=str(uds))
    try:
        assert wait_ready(read_end, 30) == b"ready\n"
        transport = httpx.AsyncHTTPTransport(uds=str(uds))
        async with httpx.AsyncClient(transport=transport, base_url="http://ship") as client:
            response = await client.get("/health")
    finally:
        os.close(read_end)
        process.terminate()
        process.wait(timeout=30)

    assert response.status_code == 200
    assert response.json()["kernel_generation"] == 0
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert process.returncode in (0, -signal.SIGTERM)


async def test_the_sandbox_never_sees_the_digest(tmp_path: Path, workspace: Path) -> None:
    """`python -m ship` drops it before the (prestarted) kernel, shells or processes start."""
    port = free_port()
    settings = {"SHIP_SOCKET": "", "SHIP_PORT": str(port), "SHIP_PRESTART_KERNEL": "1"}
    ship, read_end = spawn(workspace, subprocess.DEVNULL, SHIP_TOKEN_SHA256=DIGEST, **settings)
    try:
        assert wait_ready(read_end, 30) == b"ready\n"
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers=GOOD, timeout=60
        ) as client:
            code = "import os; sorted(k for k in os.environ if k.startswith('SHIP_TOKEN'))"
            python = await client.post("/python/exec", json={"code": code})
            shell = await client.post("/shell/exec", json={"command": "env | grep -c SHIP_TOKEN"})
    finally:
        os.close(read_end)
        ship.terminate()
        ship.wait(timeout=30)

    assert python.json()["text"] == "[]"
    assert shell.json()["stdout"] == "0\n"


def test_ship_ends_itself_once_bay_is_silent(tmp_path: Path, workspace: Path) -> None:
    uds = str(tmp_path / "ship.sock")
    process, read_end = spawn(workspace, subprocess.PIPE, SHIP_SOCKET=uds, SHIP_ORPHAN_AFTER_S="1")
    try:
        assert wait_ready(read_end, 30) == b"ready\n"
        _, log = process.communicate(timeout=60)
    finally:
        os.close(read_end)
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 0, log
    assert b"no word from Bay for 1 s" in log


def test_a_request_longer_than_the_lease_keeps_ship(tmp_path: Path, workspace: Path) -> None:
    uds = tmp_path / "ship.sock"
    process, read_end = spawn(
        workspace, subprocess.DEVNULL, SHIP_SOCKET=str(uds), SHIP_ORPHAN_AFTER_S="5"
    )
    try:
        assert wait_ready(read_end, 30) == b"ready\n"
        transport = httpx.HTTPTransport(uds=str(uds))
        with httpx.Client(transport=transport, base_url="http://ship", timeout=60) as client:
            long = client.post("/shell/exec", json={"command": "sleep 12", "timeout": 60})
            assert process.poll() is None
            after = client.post("/shell/exec", json={"command": "echo still", "timeout": 60})
    finally:
        os.close(read_end)
        process.terminate()
        process.wait(timeout=30)

    assert long.json()["exit_code"] == 0
    assert after.json()["stdout"] == "still\n"
