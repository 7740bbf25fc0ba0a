"""`python -m ship` as a real process: Unix socket, readiness on a file descriptor."""

import os
import select
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx


def wait_ready(fd: int, seconds: float) -> bytes:
    readable, _, _ = select.select([fd], [], [], seconds)
    assert readable, "ship did not report readiness"
    return os.read(fd, 64)


def leave_stale_socket(path: Path) -> None:
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()


async def test_serves_health_on_a_unix_socket(tmp_path: Path, workspace: Path) -> None:
    uds = tmp_path / "ship.sock"
    leave_stale_socket(uds)
    read_end, write_end = os.pipe()
    env = {
        **os.environ,
        "SHIP_WORKSPACE": str(workspace),
        "SHIP_SOCKET": str(uds),
        "SHIP_READY_FD": str(write_end),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "ship"],
        env=env,
        pass_fds=(write_end,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
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
