"""Streamed shell executions over a real socket: NDJSON events, resuming, backpressure."""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from itertools import pairwise
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter

from shipyard_protocol.ship import ExecEvent

from .conftest import ServeShip

NDJSON = {"Accept": "application/x-ndjson"}
EVENT: TypeAdapter[ExecEvent] = TypeAdapter(ExecEvent)
FIFTY_MB = 50 * 1024 * 1024
FIFTY_MB_OF_X = f"head -c {FIFTY_MB} /dev/zero | tr '\\0' x"


@asynccontextmanager
async def ship_client(url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        yield client


@asynccontextmanager
async def shell_stream(
    client: httpx.AsyncClient, command: str, **fields: Any
) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
    body = {"command": command, **fields}
    async with client.stream("POST", "/shell/exec", json=body, headers=NDJSON) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-ndjson"
        yield (json.loads(line) async for line in response.aiter_lines() if line)


async def read_events(client: httpx.AsyncClient, execution_id: str, after: int) -> list[Any]:
    response = await client.get(f"/executions/{execution_id}/events", params={"after": after})
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines()]


def stdout_of(events: list[dict[str, Any]]) -> str:
    return "".join(e["text"] for e in events if e["kind"] == "stdout")


class TestStream:
    async def test_output_arrives_as_it_is_printed(self, ship_url: str) -> None:
        command = "for i in 1 2 3; do echo $i; sleep 0.2; done"
        arrivals, events = [], []
        async with ship_client(ship_url) as client, shell_stream(client, command) as stream:
            async for event in stream:
                arrivals.append(time.monotonic())
                events.append(EVENT.validate_python(event))

        kinds = [(e.kind, getattr(e, "text", None)) for e in events]
        assert kinds == [("stdout", "1\n"), ("stdout", "2\n"), ("stdout", "3\n"), ("end", None)]
        assert [e.seq for e in events] == [1, 2, 3, 4]
        assert all(later - earlier > 0.1 for earlier, later in pairwise(arrivals[:3]))
        end = events[-1]
        assert end.kind == "end"
        assert (end.success, end.exit_code, end.timed_out) == (True, 0, False)
        assert end.duration_ms >= 600

    async def test_collected_outcome_equals_the_stream(self, ship_url: str) -> None:
        command = "for i in $(seq 1 50); do echo out $i; echo err $i >&2; done; exit 4"
        async with ship_client(ship_url) as client:
            async with shell_stream(client, command, execution_id="exec-collect") as stream:
                events = [event async for event in stream]
            state = (await client.get("/executions/exec-collect")).json()

        stderr = "".join(e["text"] for e in events if e["kind"] == "stderr")
        assert state["state"] == "finished"
        assert state["last_seq"] == events[-1]["seq"] == len(events)
        assert state["outcome"]["stdout"] == stdout_of(events)
        assert state["outcome"]["stderr"] == stderr
        assert state["outcome"]["exit_code"] == 4
        assert events[-1]["success"] is False

    async def test_split_utf8_characters_are_decoded_whole(self, ship_url: str) -> None:
        command = r"printf '\xc3'; sleep 0.2; printf '\xa9\n'"
        async with ship_client(ship_url) as client, shell_stream(client, command) as stream:
            events = [event async for event in stream]

        assert stdout_of(events) == "é\n"


class TestResume:
    async def test_reconnecting_after_k_resumes_at_k_plus_one(self, ship_url: str) -> None:
        # Odd numbers on stdout, even ones on stderr: at least two output events however a
        # busy machine batches the lines, so the stream goes on after the first two.
        command = "for i in $(seq 1 8); do echo $i >&$((2 - i % 2)); sleep 0.05; done"
        async with ship_client(ship_url) as client:
            async with shell_stream(client, command, execution_id="exec-resume") as stream:
                first = [await anext(stream) for _ in range(2)]
            rest = await read_events(client, "exec-resume", after=2)

        events = first + rest
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert rest[0]["seq"] == 3
        assert stdout_of(events) == "1\n3\n5\n7\n"
        stderr = "".join(e["text"] for e in events if e["kind"] == "stderr")
        assert stderr == "2\n4\n6\n8\n"
        assert events[-1]["kind"] == "end"

    async def test_a_disconnected_client_does_not_stop_the_execution(self, ship_url: str) -> None:
        command = "echo start; sleep 0.5; echo done"
        async with ship_client(ship_url) as client:
            async with shell_stream(client, command, execution_id="exec-left") as stream:
                assert (await anext(stream))["text"] == "start\n"
            state = (await client.get("/executions/exec-left", params={"wait": 10})).json()

        assert state["state"] == "finished"
        assert state["outcome"]["stdout"] == "start\ndone\n"
        assert state["outcome"]["exit_code"] == 0

    async def test_unknown_execution_is_404(self, ship_url: str) -> None:
        async with ship_client(ship_url) as client:
            response = await client.get("/executions/exec-nope/events")

        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


class TestBackpressure:
    async def test_a_slow_reader_gets_every_byte(self, serve_ship: ServeShip) -> None:
        async with (
            serve_ship(event_log_bytes=1024 * 1024) as url,
            ship_client(url) as client,
            shell_stream(client, FIFTY_MB_OF_X, execution_id="exec-slow") as stream,
        ):
            events = [await anext(stream)]
            paused = await last_seq_stays(client, "exec-slow", seconds=0.5)
            events += [event async for event in stream]

        assert paused
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert sum(len(e["text"]) for e in events if e["kind"] == "stdout") == FIFTY_MB
        assert events[-1]["kind"] == "end"
        assert events[-1]["exit_code"] == 0

    async def test_without_a_reader_old_events_are_dropped(self, serve_ship: ServeShip) -> None:
        body = {"command": FIFTY_MB_OF_X, "execution_id": "exec-alone"}
        async with serve_ship(event_log_bytes=1024 * 1024) as url, ship_client(url) as client:
            outcome = (await client.post("/shell/exec", json=body)).json()
            gone = await client.get("/executions/exec-alone/events", params={"after": 1})
            state = (await client.get("/executions/exec-alone")).json()
            tail = await read_events(client, "exec-alone", after=state["last_seq"] - 1)

        assert outcome["exit_code"] == 0
        assert outcome["truncated"] is True
        assert gone.status_code == 410
        assert gone.json()["error"]["code"] == "not_found"
        assert [e["kind"] for e in tail] == ["end"]


async def last_seq_stays(client: httpx.AsyncClient, execution_id: str, seconds: float) -> bool:
    """Whether the execution made no progress for `seconds` (held back by its reader)."""
    await asyncio.sleep(seconds)
    before = (await client.get(f"/executions/{execution_id}")).json()
    await asyncio.sleep(seconds)
    after = (await client.get(f"/executions/{execution_id}")).json()
    return bool(before["last_seq"] == after["last_seq"] and after["state"] == "running")


@pytest.mark.parametrize("accept", ["application/json", ""])
async def test_json_answer_without_ndjson_accept(ship_url: str, accept: str) -> None:
    async with ship_client(ship_url) as client:
        response = await client.post(
            "/shell/exec", json={"command": "echo hi"}, headers={"Accept": accept}
        )

    assert response.json()["stdout"] == "hi\n"
