"""Execution you can watch and steer, end to end on the local driver: SSE streams that resume,
heartbeats on quiet streams, background processes and the terminal."""

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.bay_process import API_KEY, BayProcess, local_driver_missing, traversable_tmp

pytestmark = [pytest.mark.local]
SKIP_REASON = local_driver_missing()
if SKIP_REASON:
    pytestmark.append(pytest.mark.skip(reason=SKIP_REASON))

CONFIG = {"streaming": {"heartbeat_seconds": 0.5}}
SSE = {"Accept": "text/event-stream"}


@dataclass
class Event:
    id: int | None
    kind: str
    data: dict[str, Any]


@pytest.fixture(scope="module")
def bay() -> Iterator[BayProcess]:
    with traversable_tmp() as base:
        server = BayProcess(base / "data", CONFIG)
        server.start()
        yield server
        with server.client() as client:
            for item in client.get("/v1/sandboxes", params={"limit": 200}).json()["items"]:
                client.delete(f"/v1/sandboxes/{item['id']}")
        server.stop()


@pytest.fixture(scope="module")
def client(bay: BayProcess) -> Iterator[httpx.Client]:
    with bay.client(timeout=300) as http:
        yield http


@pytest.fixture(scope="module")
def sandbox(client: httpx.Client) -> str:
    return str(client.post("/v1/sandboxes", json={}).json()["id"])


def read_sse(response: httpx.Response, stop_after: int | None = None) -> Iterator[Event | None]:
    """Parsed events; None for each heartbeat comment."""
    fields: dict[str, str] = {}
    count = 0
    for line in response.iter_lines():
        if line.startswith(":"):
            yield None
        elif line:
            name, _, value = line.partition(": ")
            fields[name] = value
        elif fields:
            event = Event(int(fields["id"]), fields["event"], json.loads(fields["data"]))
            fields = {}
            yield event
            count += 1
            if stop_after is not None and count >= stop_after:
                return


def stream_shell(client: httpx.Client, sandbox: str, command: str, timeout: int = 120) -> Any:
    body = {"command": command, "timeout": timeout}
    return client.stream("POST", f"/v1/sandboxes/{sandbox}/shell/exec", json=body, headers=SSE)


class TestStreams:
    def test_events_arrive_live_then_end(self, client: httpx.Client, sandbox: str) -> None:
        command = "for i in 1 2 3; do echo $i; sleep 1; done"
        seen: list[tuple[float, Event]] = []
        with stream_shell(client, sandbox, command) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            for event in read_sse(response):
                if event is not None:
                    seen.append((time.monotonic(), event))
        kinds = [event.kind for _, event in seen]
        assert kinds == ["stdout", "stdout", "stdout", "end"]
        assert [event.data.get("text") for _, event in seen[:3]] == ["1\n", "2\n", "3\n"]
        assert [event.id for _, event in seen] == [1, 2, 3, 4]
        assert seen[2][0] - seen[0][0] > 1.5
        end = seen[-1][1].data
        assert (end["success"], end["exit_code"]) == (True, 0)
        assert end["execution_id"].startswith("exec-")

    def test_quiet_stream_gets_heartbeats(self, client: httpx.Client, sandbox: str) -> None:
        with stream_shell(client, sandbox, "sleep 3; echo done") as response:
            items = list(read_sse(response))
        beats_before_output = items.index(next(i for i in items if i is not None))
        assert beats_before_output >= 3
        assert [i.kind for i in items if i is not None] == ["stdout", "end"]

    def test_reconnect_resumes_exactly_after_the_last_event(
        self, client: httpx.Client, sandbox: str
    ) -> None:
        command = "seq 1 1500 | while read i; do echo $i; sleep 0.002; done"
        with stream_shell(client, sandbox, command) as response:
            first = [e for e in read_sse(response, stop_after=1000) if e is not None]
        execution_id = first[0].data["execution_id"]
        url = f"/v1/sandboxes/{sandbox}/executions/{execution_id}/events"
        with client.stream("GET", url, headers={"Last-Event-ID": "1000"}) as response:
            rest = [e for e in read_sse(response) if e is not None]
        ids = [e.id for e in first + rest]
        assert ids == list(range(1, len(ids) + 1))
        assert rest[0].id == 1001
        assert rest[-1].kind == "end"
        text = "".join(e.data.get("text", "") for e in first + rest if e.kind == "stdout")
        assert text.split() == [str(i) for i in range(1, 1501)]
        status = client.get(f"/v1/sandboxes/{sandbox}/executions/{execution_id}").json()
        assert (status["status"], status["exit_code"]) == ("finished", 0)

    def test_dropped_client_does_not_stop_the_execution(
        self, client: httpx.Client, sandbox: str
    ) -> None:
        with stream_shell(client, sandbox, "echo start; sleep 2; echo bye > after.txt") as response:
            first = next(e for e in read_sse(response) if e is not None)
        execution_id = first.data["execution_id"]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status = client.get(f"/v1/sandboxes/{sandbox}/executions/{execution_id}").json()
            if status["status"] == "finished":
                break
            time.sleep(0.2)
        assert status["exit_code"] == 0
        read = client.get(f"/v1/sandboxes/{sandbox}/filesystem/files", params={"path": "after.txt"})
        assert read.json() == {"content": "bye\n"}
        history = client.get(f"/v1/sandboxes/{sandbox}/history/{execution_id}")
        assert history.status_code == 200

    def test_200_mb_streamed_byte_for_byte(self, client: httpx.Client, sandbox: str) -> None:
        total = 200 * 1024 * 1024
        command = f"head -c {total} /dev/zero | tr '\\0' 'x'"
        received = 0
        with stream_shell(client, sandbox, command, timeout=300) as response:
            for event in read_sse(response):
                if event is not None and event.kind == "stdout":
                    received += len(event.data["text"])
                    last = event
                elif event is not None and event.kind == "end":
                    end = event.data
        assert received == total
        assert last.kind == "stdout"
        assert end["success"] is True
        collected = client.get(f"/v1/sandboxes/{sandbox}/history/last").json()
        assert len(collected["output"]) < 2 * 1024 * 1024

    def test_python_streams_display_and_result(self, client: httpx.Client, sandbox: str) -> None:
        body = {"code": "print('a'); 6 * 7"}
        url = f"/v1/sandboxes/{sandbox}/python/exec"
        with client.stream("POST", url, json=body, headers=SSE) as response:
            events = [e for e in read_sse(response) if e is not None]
        kinds = [e.kind for e in events]
        assert kinds[0] == "stdout"
        assert "result" in kinds
        assert kinds[-1] == "end"
        assert next(e for e in events if e.kind == "result").data["text"] == "42"


class TestProcesses:
    def test_background_server_is_reachable_from_another_exec(
        self, client: httpx.Client, sandbox: str
    ) -> None:
        base = f"/v1/sandboxes/{sandbox}/processes"
        started = client.post(
            base, json={"command": "python3 -m http.server 8765 --bind 127.0.0.1"}
        )
        assert started.status_code == 201
        process_id = started.json()["process_id"]
        fetch = (
            "import time, urllib.request\n"
            "for _ in range(50):\n"
            "    try:\n"
            "        print(urllib.request.urlopen('http://127.0.0.1:8765/').status); break\n"
            "    except OSError: time.sleep(0.1)\n"
        )
        ran = client.post(f"/v1/sandboxes/{sandbox}/python/exec", json={"code": fetch}).json()
        assert ran["output"] == "200"
        listed = client.get(base).json()["processes"]
        assert process_id in [p["process_id"] for p in listed]
        logs = client.get(f"{base}/{process_id}/logs", params={"stream": "stderr"}).json()
        assert "GET / HTTP" in logs["data"]
        client.post(f"{base}/{process_id}/signal", json={"signal": "TERM"})
        waited = client.post(f"{base}/{process_id}/wait", params={"timeout": 10}).json()
        assert waited["state"] == "exited"

    def test_processes_end_with_their_session(self, client: httpx.Client) -> None:
        sandbox = client.post("/v1/sandboxes", json={}).json()["id"]
        base = f"/v1/sandboxes/{sandbox}/processes"
        process_id = client.post(base, json={"command": "sleep 300"}).json()["process_id"]
        client.post(f"/v1/sandboxes/{sandbox}/stop")
        gone = client.get(f"{base}/{process_id}")
        assert gone.status_code == 404
        assert "end with their session" in gone.json()["error"]["message"]
        assert client.get(base).json() == {"processes": []}


class TestKernelControl:
    def test_interrupt_stops_a_run_and_keeps_variables(
        self, client: httpx.Client, sandbox: str
    ) -> None:
        url = f"/v1/sandboxes/{sandbox}/python/exec"
        client.post(url, json={"code": "kept = 5"})
        body = {"code": "while True: pass", "timeout": 60}
        with client.stream("POST", url, json=body, headers=SSE) as response:
            interrupted = client.post(f"/v1/sandboxes/{sandbox}/python/interrupt")
            events = [e for e in read_sse(response) if e is not None]
        assert interrupted.json()["restarted"] is False
        assert any(e.kind == "error" for e in events)
        assert client.post(url, json={"code": "kept"}).json()["output"] == "5"

    def test_restart_loses_state_and_says_so(self, client: httpx.Client, sandbox: str) -> None:
        url = f"/v1/sandboxes/{sandbox}/python/exec"
        client.post(url, json={"code": "lost = 1"})
        restarted = client.post(f"/v1/sandboxes/{sandbox}/python/restart").json()
        assert restarted["restarted"] is True
        after = client.post(url, json={"code": "lost"}).json()
        assert after["success"] is False
        assert after["kernel_restarted"] is True


class TestTerminal:
    def test_terminal_echoes(self, bay: BayProcess, sandbox: str) -> None:
        asyncio.run(_terminal_echo(bay, sandbox))

    def test_terminal_refuses_a_bad_key(self, bay: BayProcess, sandbox: str) -> None:
        asyncio.run(_terminal_refused(bay, sandbox))


async def _terminal_echo(bay: BayProcess, sandbox: str) -> None:
    url = f"ws://127.0.0.1:{bay.port}/v1/sandboxes/{sandbox}/terminal?cols=100&rows=30"
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with connect(url, additional_headers=headers) as terminal:
        await terminal.send(json.dumps({"type": "input", "data": "echo hi-$((40+2))\r"}))
        seen = ""
        while "hi-42" not in seen:
            frame = await asyncio.wait_for(terminal.recv(), 20)
            seen += frame.decode(errors="replace") if isinstance(frame, bytes) else frame


async def _terminal_refused(bay: BayProcess, sandbox: str) -> None:
    url = f"ws://127.0.0.1:{bay.port}/v1/sandboxes/{sandbox}/terminal?token=sk-wrong-never-logged"
    async with connect(url) as terminal:
        with pytest.raises(Exception, match="4401"):
            await asyncio.wait_for(terminal.recv(), 10)
    # uvicorn logs the path with its query string: the key must not be in it.
    assert "terminal?token=[redacted]" in bay.log.read_text()
    assert "sk-wrong-never-logged" not in bay.log.read_text()
