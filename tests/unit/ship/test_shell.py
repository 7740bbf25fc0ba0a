"""POST /shell/exec: bash in its own process group, inside the workspace."""

import os
import time
from pathlib import Path
from typing import Any

import httpx

from .conftest import StartShip


async def run(client: httpx.AsyncClient, command: str, **fields: Any) -> dict[str, Any]:
    response = await client.post("/shell/exec", json={"command": command, **fields})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def is_gone(pid: int, within: float = 5.0) -> bool:
    """Whether `pid` is dead (or a zombie awaiting its reaper) within `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):  # gone between lookup and read
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


class TestRun:
    async def test_streams_and_exit_code(self, client: httpx.AsyncClient) -> None:
        outcome = await run(client, "echo out; echo err >&2; exit 3")

        assert outcome == {
            "exit_code": 3,
            "stdout": "out\n",
            "stderr": "err\n",
            "timed_out": False,
            "truncated": False,
        }

    async def test_runs_in_the_workspace_by_default(
        self, client: httpx.AsyncClient, workspace: Path
    ) -> None:
        outcome = await run(client, "pwd")

        assert outcome["stdout"].strip() == str(workspace)

    async def test_cwd_inside_the_workspace(
        self, client: httpx.AsyncClient, workspace: Path
    ) -> None:
        (workspace / "sub").mkdir()

        outcome = await run(client, "pwd", cwd="sub")

        assert outcome["stdout"].strip() == str(workspace / "sub")

    async def test_env_is_passed(self, client: httpx.AsyncClient) -> None:
        outcome = await run(client, 'echo "$GREETING"', env={"GREETING": "hello there"})

        assert outcome["stdout"] == "hello there\n"

    async def test_undecodable_bytes_are_replaced(self, client: httpx.AsyncClient) -> None:
        outcome = await run(client, r"printf 'a\377b'")

        assert outcome["stdout"] == "a\ufffdb"

    async def test_large_output_keeps_head_and_tail(self, start_ship: StartShip) -> None:
        command = "head -c 300000 /dev/zero | tr '\\0' x; echo; echo THE-END"
        async with start_ship(output_limit=1000) as client:
            outcome = await run(client, "echo THE-START; " + command)

        assert outcome["truncated"] is True
        assert outcome["stdout"].startswith("THE-START\nxxx")
        assert outcome["stdout"].endswith("xxx\nTHE-END\n")
        assert "...[truncated 299019 bytes]..." in outcome["stdout"]
        assert len(outcome["stdout"]) < 1100


class TestCwd:
    async def test_outside_the_workspace_is_rejected(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/shell/exec", json={"command": "pwd", "cwd": "../"})

        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_path"
        assert response.json()["error"]["details"]["reason"] == "outside_workspace"

    async def test_missing_directory_is_rejected(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/shell/exec", json={"command": "pwd", "cwd": "nope"})

        assert response.status_code == 400
        assert response.json()["error"]["details"]["reason"] == "not_a_directory"


class TestBackground:
    async def test_timeout_kills_the_whole_group(
        self, client: httpx.AsyncClient, workspace: Path
    ) -> None:
        outcome = await run(client, "sleep 1000 & echo $! > bg.pid; wait", timeout=0.5)

        assert outcome["exit_code"] == -1
        assert outcome["timed_out"] is True
        assert is_gone(int((workspace / "bg.pid").read_text()))

    async def test_child_holding_the_pipes_does_not_hang(
        self, client: httpx.AsyncClient, workspace: Path
    ) -> None:
        started = time.monotonic()
        outcome = await run(client, "sleep 1000 & echo $! > bg.pid; echo started", timeout=30)

        assert time.monotonic() - started < 5
        assert outcome["exit_code"] == 0
        assert outcome["stdout"] == "started\n"
        assert is_gone(int((workspace / "bg.pid").read_text()))

    async def test_child_that_left_the_group_but_holds_the_pipes_is_killed(
        self, client: httpx.AsyncClient, workspace: Path
    ) -> None:
        outcome = await run(client, "setsid sleep 1000 & echo $! > bg.pid; echo started")

        assert outcome["stdout"] == "started\n"
        assert is_gone(int((workspace / "bg.pid").read_text()))

    async def test_child_writing_to_a_log_keeps_running(
        self, client: httpx.AsyncClient, workspace: Path
    ) -> None:
        outcome = await run(client, "sleep 1000 > log.txt 2>&1 & echo $! > bg.pid")
        pid = int((workspace / "bg.pid").read_text())
        try:
            assert outcome["exit_code"] == 0
            assert not is_gone(pid, within=0.3)
        finally:
            os.kill(pid, 9)
