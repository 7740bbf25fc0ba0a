"""GET /executions/{id}: state, long-poll, ids, and how many finished executions are kept."""

import asyncio
import json
from typing import Any

import httpx

from .conftest import StartShip


async def shell(client: httpx.AsyncClient, command: str, execution_id: str) -> httpx.Response:
    body = {"command": command, "execution_id": execution_id}
    return await client.post("/shell/exec", json=body)


async def state(client: httpx.AsyncClient, execution_id: str, **params: Any) -> Any:
    return (await client.get(f"/executions/{execution_id}", params=params)).json()


class TestState:
    async def test_running_then_finished_with_the_outcome(self, client: httpx.AsyncClient) -> None:
        running = asyncio.create_task(shell(client, "echo hi; sleep 0.5", "exec-a"))
        await asyncio.sleep(0.2)
        during = await state(client, "exec-a")
        after = await state(client, "exec-a", wait=10)
        await running

        assert (during["state"], during["outcome"]) == ("running", None)
        assert after["state"] == "finished"
        assert after["exec_type"] == "shell"
        assert after["last_seq"] == 2
        assert after["outcome"]["stdout"] == "hi\n"

    async def test_unknown_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/executions/exec-unknown")

        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"

    async def test_an_id_in_use_is_a_conflict(self, client: httpx.AsyncClient) -> None:
        await shell(client, "true", "exec-twice")

        response = await shell(client, "true", "exec-twice")

        assert response.status_code == 409
        assert response.json()["error"]["code"] == "conflict"

    async def test_ship_makes_an_id_when_none_is_given(self, client: httpx.AsyncClient) -> None:
        headers = {"Accept": "application/x-ndjson"}
        response = await client.post("/shell/exec", json={"command": "true"}, headers=headers)
        [end] = [json.loads(line) for line in response.text.splitlines()]

        assert end["execution_id"].startswith("exec-")
        assert len(end["execution_id"]) == len("exec-") + 12


class TestKept:
    async def test_only_the_last_n_finished_are_kept(self, start_ship: StartShip) -> None:
        async with start_ship(executions_kept=2) as client:
            for name in ("exec-1", "exec-2", "exec-3"):
                await shell(client, "true", name)
            oldest = await client.get("/executions/exec-1")
            newest = await client.get("/executions/exec-3")

        assert oldest.status_code == 404
        assert newest.status_code == 200

    async def test_old_events_give_way_but_the_state_stays(self, start_ship: StartShip) -> None:
        big = "head -c 100000 /dev/zero | tr '\\0' x"
        async with start_ship(executions_kept_bytes=150_000) as client:
            await shell(client, big, "exec-old")
            await shell(client, big, "exec-new")
            old_events = await client.get("/executions/exec-old/events", params={"after": 0})
            new_events = await client.get("/executions/exec-new/events", params={"after": 0})
            old_state = await state(client, "exec-old")

        assert old_events.status_code == 410
        assert new_events.status_code == 200
        assert old_state["outcome"]["exit_code"] == 0
