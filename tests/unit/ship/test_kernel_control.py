"""Python executions as events, and steering the kernel: interrupt and restart."""

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
from pydantic import TypeAdapter

from shipyard_protocol.ship import ExecEvent

from .conftest import StartShip

NDJSON = {"Accept": "application/x-ndjson"}
EVENT: TypeAdapter[ExecEvent] = TypeAdapter(ExecEvent)
SPIN = "print('started', flush=True)\nwhile True: pass"


async def stream(client: httpx.AsyncClient, code: str) -> list[dict[str, Any]]:
    response = await client.post("/python/exec", json={"code": code}, headers=NDJSON)
    assert response.status_code == 200, response.text
    events = [json.loads(line) for line in response.text.splitlines()]
    for event in events:
        EVENT.validate_python(event)
    return events


async def run(client: httpx.AsyncClient, code: str) -> dict[str, Any]:
    response = await client.post("/python/exec", json={"code": code})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def started(client: httpx.AsyncClient, execution_id: str) -> None:
    """Wait until the execution printed its first line (so its code is running)."""
    for _ in range(600):
        response = await client.get(f"/executions/{execution_id}")
        if response.status_code == 200 and response.json()["last_seq"] >= 1:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{execution_id} did not start")


def spin(client: httpx.AsyncClient, execution_id: str) -> "asyncio.Task[httpx.Response]":
    body = {"code": SPIN, "execution_id": execution_id, "timeout": 60}
    return asyncio.create_task(client.post("/python/exec", json=body))


class TestStream:
    async def test_output_display_and_result_events(self, client: httpx.AsyncClient) -> None:
        code = (
            "import sys\nfrom IPython.display import HTML, display\n"
            "print('out')\nsys.stderr.write('err\\n')\ndisplay(HTML('<b>x</b>'))\n6 * 7"
        )

        events = await stream(client, code)

        assert [e["kind"] for e in events] == ["stdout", "stderr", "display", "result", "end"]
        assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
        assert events[2]["data"]["text/html"] == "<b>x</b>"
        assert events[3]["text"] == "42"
        assert events[3]["data"] == {"text/plain": "42"}
        end = events[-1]
        assert (end["success"], end["kernel_generation"], end["kernel_restarted"]) == (
            True,
            1,
            False,
        )

    async def test_error_event_then_end(self, client: httpx.AsyncClient) -> None:
        events = await stream(client, "1 / 0")

        assert [e["kind"] for e in events] == ["error", "end"]
        assert events[0]["error"]["name"] == "ZeroDivisionError"
        assert events[1]["success"] is False
        assert events[1]["error"] == "ZeroDivisionError: division by zero"

    async def test_timeout_is_an_error_event(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/python/exec", json={"code": "while True: pass", "timeout": 0.5}, headers=NDJSON
        )
        events = [json.loads(line) for line in response.text.splitlines()]

        assert events[-2]["error"]["name"] == "TimeoutError"
        assert events[-1]["timed_out"] is True

    async def test_kernel_that_cannot_start_still_ends(
        self, start_ship: StartShip, tmp_path: Path
    ) -> None:
        async with start_ship(workspace=tmp_path / "missing") as client:
            events = await stream(client, "1")

        [end] = events
        assert end["kind"] == "end"
        assert end["success"] is False
        assert "did not start" in end["error"]

    async def test_second_run_waits_its_turn(self, client: httpx.AsyncClient) -> None:
        first = asyncio.create_task(run(client, "import time\ntime.sleep(0.5)\nx = 1"))
        await asyncio.sleep(0.1)
        second = await run(client, "x + 1")

        assert (await first)["success"] is True
        assert second["text"] == "2"


class TestInterrupt:
    async def test_ends_the_run_and_keeps_variables(self, client: httpx.AsyncClient) -> None:
        await run(client, "kept = 'yes'")
        spinning = spin(client, "exec-spin")
        await started(client, "exec-spin")

        state = (await client.post("/python/interrupt")).json()
        outcome = (await spinning).json()
        after = await run(client, "kept")

        assert state == {"kernel_generation": 1, "restarted": False}
        assert outcome["success"] is False
        assert outcome["error"]["name"] == "KeyboardInterrupt"
        assert outcome["timed_out"] is False
        assert after["text"] == "'yes'"

    async def test_without_a_kernel_is_harmless(self, client: httpx.AsyncClient) -> None:
        state = (await client.post("/python/interrupt")).json()

        assert state == {"kernel_generation": 0, "restarted": False}


class TestRestart:
    async def test_bumps_the_generation_and_loses_variables(
        self, client: httpx.AsyncClient
    ) -> None:
        await run(client, "lost = 1")

        state = (await client.post("/python/restart")).json()
        after = await run(client, "'lost' in globals()")

        assert state == {"kernel_generation": 2, "restarted": True}
        assert after["text"] == "False"
        assert (after["kernel_generation"], after["kernel_restarted"]) == (2, True)

    async def test_ends_a_running_execution(self, client: httpx.AsyncClient) -> None:
        spinning = spin(client, "exec-restarted")
        await started(client, "exec-restarted")

        await client.post("/python/restart")
        outcome = (await spinning).json()

        assert outcome["error"]["name"] == "KernelRestartedError"
        assert (outcome["kernel_generation"], outcome["kernel_restarted"]) == (2, True)
