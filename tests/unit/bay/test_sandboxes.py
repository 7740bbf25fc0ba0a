"""Sandbox lifecycle through the real app, the fake driver and an in-process Ship."""

import asyncio

from tests.unit.bay.conftest import AUTH, Bay


class TestCreate:
    async def test_returns_201_with_idle_status_and_managed_cargo(self, bay: Bay) -> None:
        response = await bay.client.post("/v1/sandboxes", json={}, headers=AUTH)
        body = response.json()
        assert response.status_code == 201
        assert body["id"].startswith("sandbox-")
        assert body["cargo_id"].startswith("ws-")
        assert body["status"] == "idle"
        assert body["profile"] == "python-default"
        assert body["capabilities"] == ["filesystem", "shell", "python"]
        assert body["expires_at"] is None
        assert body["containers"] is None

    async def test_ttl_sets_expiry(self, bay: Bay) -> None:
        response = await bay.client.post("/v1/sandboxes", json={"ttl": 60}, headers=AUTH)
        assert response.json()["expires_at"] is not None

    async def test_unknown_profile_is_400(self, bay: Bay) -> None:
        response = await bay.client.post("/v1/sandboxes", json={"profile": "nope"}, headers=AUTH)
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert "profile" in error["message"].lower()

    async def test_timestamps_are_utc_with_z(self, bay: Bay) -> None:
        response = await bay.client.post("/v1/sandboxes", json={}, headers=AUTH)
        assert response.json()["created_at"].endswith("Z")


class TestGetAndList:
    async def test_get_shows_container_once_ready(self, bay: Bay) -> None:
        sandbox_id = await bay.sandbox()
        await bay.client.post(
            f"/v1/sandboxes/{sandbox_id}/shell/exec", json={"command": "true"}, headers=AUTH
        )
        body = (await bay.client.get(f"/v1/sandboxes/{sandbox_id}", headers=AUTH)).json()
        assert body["status"] == "ready"
        assert body["containers"][0]["healthy"] is True
        assert body["idle_expires_at"] is not None

    async def test_list_pages_with_cursor(self, bay: Bay) -> None:
        ids = sorted([await bay.sandbox() for _ in range(3)])
        first = (await bay.client.get("/v1/sandboxes?limit=2", headers=AUTH)).json()
        assert [item["id"] for item in first["items"]] == ids[:2]
        assert first["next_cursor"] == ids[1]
        rest = await bay.client.get(f"/v1/sandboxes?cursor={ids[1]}", headers=AUTH)
        assert [item["id"] for item in rest.json()["items"]] == ids[2:]
        assert rest.json()["next_cursor"] is None

    async def test_list_filters_by_status(self, bay: Bay) -> None:
        idle, ready = await bay.sandbox(), await bay.sandbox()
        await bay.client.post(
            f"/v1/sandboxes/{ready}/shell/exec", json={"command": "true"}, headers=AUTH
        )
        body = (await bay.client.get("/v1/sandboxes?status=ready", headers=AUTH)).json()
        assert [item["id"] for item in body["items"]] == [ready]
        assert idle not in [item["id"] for item in body["items"]]

    async def test_unknown_status_is_422_not_everything(self, bay: Bay) -> None:
        await bay.sandbox()
        response = await bay.client.get("/v1/sandboxes?status=bogus", headers=AUTH)
        assert response.status_code == 422
        (problem,) = response.json()["detail"]
        assert (problem["loc"], problem["input"]) == (["query", "status"], "bogus")
        assert "'idle', 'starting', 'ready', 'failed' or 'expired'" in problem["msg"]

    async def test_limit_out_of_range_is_422(self, bay: Bay) -> None:
        response = await bay.client.get("/v1/sandboxes?limit=0", headers=AUTH)
        assert response.status_code == 422
        assert "detail" in response.json()


class TestStopAndDelete:
    async def test_stop_ends_variables_and_keeps_files(self, bay: Bay) -> None:
        sandbox_id = await bay.sandbox()
        base = f"/v1/sandboxes/{sandbox_id}"
        await bay.client.post(f"{base}/python/exec", json={"code": "x = 1"}, headers=AUTH)
        await bay.client.put(
            f"{base}/filesystem/files", json={"path": "keep.txt", "content": "kept"}, headers=AUTH
        )
        stopped = await bay.client.post(f"{base}/stop", headers=AUTH)
        assert stopped.json() == {"status": "stopped"}
        after = await bay.client.post(f"{base}/python/exec", json={"code": "x"}, headers=AUTH)
        assert after.json()["success"] is False
        assert "NameError" in after.json()["error"]
        read = await bay.client.get(f"{base}/filesystem/files?path=keep.txt", headers=AUTH)
        assert read.json() == {"content": "kept"}

    async def test_first_python_result_after_stop_says_the_kernel_restarted(self, bay: Bay) -> None:
        sandbox_id = await bay.sandbox()
        base = f"/v1/sandboxes/{sandbox_id}"
        run = f"{base}/python/exec"
        first = await bay.client.post(run, json={"code": "x = 1"}, headers=AUTH)
        await bay.client.post(f"{base}/stop", headers=AUTH)
        await bay.client.post(f"{base}/shell/exec", json={"command": "true"}, headers=AUTH)
        after = await bay.client.post(run, json={"code": "'x' in globals()"}, headers=AUTH)
        next_one = await bay.client.post(run, json={"code": "1"}, headers=AUTH)
        assert first.json()["kernel_restarted"] is False
        assert (after.json()["output"], after.json()["kernel_restarted"]) == ("False", True)
        assert next_one.json()["kernel_restarted"] is False

    async def test_stop_before_any_python_loses_no_variables(self, bay: Bay) -> None:
        sandbox_id = await bay.sandbox()
        base = f"/v1/sandboxes/{sandbox_id}"
        await bay.client.post(f"{base}/shell/exec", json={"command": "true"}, headers=AUTH)
        await bay.client.post(f"{base}/stop", headers=AUTH)
        first = await bay.client.post(f"{base}/python/exec", json={"code": "1"}, headers=AUTH)
        assert first.json()["kernel_restarted"] is False

    async def test_stop_twice_is_fine(self, bay: Bay) -> None:
        sandbox_id = await bay.sandbox()
        for _ in range(2):
            response = await bay.client.post(f"/v1/sandboxes/{sandbox_id}/stop", headers=AUTH)
            assert response.status_code == 200

    async def test_delete_is_204_then_404_and_idempotent(self, bay: Bay) -> None:
        sandbox_id = await bay.sandbox()
        assert (
            await bay.client.delete(f"/v1/sandboxes/{sandbox_id}", headers=AUTH)
        ).status_code == 204
        assert (
            await bay.client.get(f"/v1/sandboxes/{sandbox_id}", headers=AUTH)
        ).status_code == 404
        assert (
            await bay.client.delete(f"/v1/sandboxes/{sandbox_id}", headers=AUTH)
        ).status_code == 204

    async def test_delete_stops_sessions_and_removes_managed_cargo(self, bay: Bay) -> None:
        sandbox_id = await bay.sandbox()
        await bay.client.post(
            f"/v1/sandboxes/{sandbox_id}/shell/exec", json={"command": "true"}, headers=AUTH
        )
        cargo_dir = bay.driver.started[-1].cargo_ref
        await bay.client.delete(f"/v1/sandboxes/{sandbox_id}", headers=AUTH)
        assert await bay.driver.list_instances() == []
        assert not __import__("pathlib").Path(cargo_dir).exists()

    async def test_unknown_sandbox_is_404(self, bay: Bay) -> None:
        response = await bay.client.delete("/v1/sandboxes/sandbox-000000000000", headers=AUTH)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


class TestEnsureRunning:
    async def test_concurrent_first_calls_start_exactly_one_session(self, bay: Bay) -> None:
        sandbox_id = await bay.sandbox()
        calls = [
            bay.client.post(
                f"/v1/sandboxes/{sandbox_id}/shell/exec", json={"command": "echo hi"}, headers=AUTH
            )
            for _ in range(8)
        ]
        responses = await asyncio.gather(*calls)
        assert {r.json()["output"] for r in responses} == {"hi"}
        assert len(bay.driver.started) == 1

    async def test_dead_session_is_replaced_and_reported(self, bay: Bay) -> None:
        sandbox_id = await bay.sandbox()
        base = f"/v1/sandboxes/{sandbox_id}"
        await bay.client.post(f"{base}/python/exec", json={"code": "x = 1"}, headers=AUTH)
        bay.driver.crash(bay.driver.started[-1].labels.session_id)
        after = await bay.client.post(f"{base}/python/exec", json={"code": "1"}, headers=AUTH)
        assert after.json()["success"] is True
        assert after.json()["kernel_restarted"] is True
        assert len(bay.driver.started) == 2
