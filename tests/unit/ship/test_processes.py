"""Background processes: detached, logs by offset, wait, signals; and the session's activity."""

import asyncio
import socket
import sys
from pathlib import Path
from typing import Any

import httpx

from .conftest import StartShip
from .test_shell import is_gone


async def start(client: httpx.AsyncClient, command: str, **fields: Any) -> dict[str, Any]:
    response = await client.post("/processes", json={"command": command, **fields})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def logs(client: httpx.AsyncClient, process_id: str, **params: Any) -> dict[str, Any]:
    response = await client.get(f"/processes/{process_id}/logs", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def wait(client: httpx.AsyncClient, process_id: str, timeout: float = 10) -> Any:
    return (await client.post(f"/processes/{process_id}/wait", params={"timeout": timeout})).json()


async def written(path: Path) -> None:
    for _ in range(200):
        if path.exists():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} was not written")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class TestHttpServer:
    async def test_reachable_from_an_exec_then_stopped(self, client: httpx.AsyncClient) -> None:
        port = free_port()
        server = f"{sys.executable} -u -m http.server {port} --bind 127.0.0.1"
        fetch = (
            f'for i in $(seq 1 100); do {sys.executable} -c "import urllib.request as u; '
            f"print(u.urlopen('http://127.0.0.1:{port}/').status)\" 2>/dev/null && break; "
            "sleep 0.1; done"
        )
        process = await start(client, server)
        fetched = (await client.post("/shell/exec", json={"command": fetch})).json()
        served = await logs(client, process["process_id"], stream="stderr")
        signalled = await client.post(f"/processes/{process['process_id']}/signal", json={})
        ended = await wait(client, process["process_id"])

        assert process["state"] == "running"
        assert fetched["stdout"] == "200\n"
        assert '"GET / HTTP/1.1" 200' in served["data"]
        assert signalled.status_code == 200
        assert (ended["state"], ended["exit_code"]) == ("exited", -15)


class TestLogs:
    async def test_read_by_offset_until_eof(self, client: httpx.AsyncClient) -> None:
        process = await start(client, "printf 'hello world'")
        await wait(client, process["process_id"])

        head = await logs(client, process["process_id"], offset=0, limit=5)
        rest = await logs(client, process["process_id"], offset=head["next_offset"])

        assert (head["data"], head["next_offset"], head["eof"]) == ("hello", 5, False)
        assert (rest["data"], rest["next_offset"], rest["eof"]) == (" world", 11, True)

    async def test_a_character_cut_by_the_limit_is_left_whole(
        self, client: httpx.AsyncClient
    ) -> None:
        process = await start(client, r"printf 'h\xc3\xa9!'")
        await wait(client, process["process_id"])

        first = await logs(client, process["process_id"], limit=2)
        second = await logs(client, process["process_id"], offset=first["next_offset"])

        assert (first["data"], first["next_offset"]) == ("h", 1)
        assert (second["data"], second["next_offset"], second["eof"]) == ("é!", 4, True)

    async def test_logs_stay_out_of_the_workspace(
        self, client: httpx.AsyncClient, workspace: Path
    ) -> None:
        process = await start(client, "echo out; echo err >&2; pwd")
        await wait(client, process["process_id"])

        out = await logs(client, process["process_id"])
        err = await logs(client, process["process_id"], stream="stderr")

        assert out["data"] == f"out\n{workspace}\n"
        assert err["data"] == "err\n"
        assert list(workspace.iterdir()) == []


class TestControl:
    async def test_wait_times_out_on_a_running_process(self, client: httpx.AsyncClient) -> None:
        process = await start(client, "sleep 30")

        waited = await wait(client, process["process_id"], timeout=0.2)
        listed = (await client.get("/processes")).json()["processes"]
        deleted = (await client.delete(f"/processes/{process['process_id']}")).json()
        missing = await client.get(f"/processes/{process['process_id']}")

        assert waited["state"] == "running"
        assert [p["process_id"] for p in listed] == [process["process_id"]]
        assert (deleted["state"], deleted["exit_code"]) == ("exited", -9)
        assert missing.status_code == 404

    async def test_signal_reaches_the_whole_group(
        self, client: httpx.AsyncClient, workspace: Path
    ) -> None:
        process = await start(
            client, "sleep 1000 & echo $! > child.tmp; mv child.tmp child.pid; wait"
        )
        await written(workspace / "child.pid")

        await client.post(f"/processes/{process['process_id']}/signal", json={"signal": "KILL"})
        await wait(client, process["process_id"])

        assert is_gone(int((workspace / "child.pid").read_text()))

    async def test_unknown_signal_is_rejected(self, client: httpx.AsyncClient) -> None:
        process = await start(client, "sleep 30")

        response = await client.post(
            f"/processes/{process['process_id']}/signal", json={"signal": "NOPE"}
        )
        await client.delete(f"/processes/{process['process_id']}")

        assert response.status_code == 400
        assert response.json()["error"]["code"] == "validation_error"

    async def test_env_and_cwd(self, client: httpx.AsyncClient, workspace: Path) -> None:
        (workspace / "sub").mkdir()
        process = await start(client, 'echo "$GREETING"; pwd', cwd="sub", env={"GREETING": "hi"})
        await wait(client, process["process_id"])

        out = await logs(client, process["process_id"])

        assert out["data"] == f"hi\n{workspace / 'sub'}\n"

    async def test_all_are_killed_at_shutdown(self, start_ship: StartShip, workspace: Path) -> None:
        async with start_ship() as client:
            process = await start(client, "sleep 1000")

        assert is_gone(process["pid"])


class TestActivity:
    async def test_counts_running_executions_and_processes(self, client: httpx.AsyncClient) -> None:
        idle = (await client.get("/activity")).json()
        process = await start(client, "sleep 30")
        running = asyncio.create_task(client.post("/shell/exec", json={"command": "sleep 0.5"}))
        await asyncio.sleep(0.2)
        busy = (await client.get("/activity")).json()
        await running
        await client.delete(f"/processes/{process['process_id']}")
        after = (await client.get("/activity")).json()

        assert idle == {
            "running_executions": 0,
            "running_processes": 0,
            "open_terminals": 0,
            "open_ports": 0,
        }
        assert busy == {
            "running_executions": 1,
            "running_processes": 1,
            "open_terminals": 0,
            "open_ports": 0,
        }
        assert after == idle
