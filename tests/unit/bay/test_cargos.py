"""External cargos: create (with or without a body), list, get, delete rules."""

from tests.unit.bay.conftest import AUTH, Bay


class TestCargos:
    async def test_create_without_body_uses_default_size(self, bay: Bay) -> None:
        response = await bay.client.post("/v1/cargos", headers=AUTH)
        body = response.json()
        assert response.status_code == 201
        assert body["id"].startswith("ws-")
        assert (body["managed"], body["size_limit_mb"], body["backend"]) == (
            False,
            1024,
            "docker_volume",
        )

    async def test_size_out_of_range_is_422(self, bay: Bay) -> None:
        response = await bay.client.post("/v1/cargos", json={"size_limit_mb": 0}, headers=AUTH)
        assert response.status_code == 422

    async def test_list_shows_external_by_default_and_managed_on_request(self, bay: Bay) -> None:
        external = (await bay.client.post("/v1/cargos", json={}, headers=AUTH)).json()["id"]
        await bay.sandbox()
        default = (await bay.client.get("/v1/cargos", headers=AUTH)).json()["items"]
        assert [c["id"] for c in default] == [external]
        managed = (await bay.client.get("/v1/cargos?managed=true", headers=AUTH)).json()
        assert len(managed["items"]) == 1
        assert managed["items"][0]["managed_by_sandbox_id"].startswith("sandbox-")

    async def test_files_persist_across_sandboxes_of_one_cargo(self, bay: Bay) -> None:
        cargo = (await bay.client.post("/v1/cargos", json={}, headers=AUTH)).json()["id"]
        first = await bay.sandbox(cargo_id=cargo)
        await bay.client.put(
            f"/v1/sandboxes/{first}/filesystem/files",
            json={"path": "shared.txt", "content": "across"},
            headers=AUTH,
        )
        await bay.client.delete(f"/v1/sandboxes/{first}", headers=AUTH)
        second = await bay.sandbox(cargo_id=cargo)
        read = await bay.client.get(
            f"/v1/sandboxes/{second}/filesystem/files?path=shared.txt", headers=AUTH
        )
        assert read.json() == {"content": "across"}

    async def test_delete_in_use_external_is_409_then_204(self, bay: Bay) -> None:
        cargo = (await bay.client.post("/v1/cargos", json={}, headers=AUTH)).json()["id"]
        sandbox_id = await bay.sandbox(cargo_id=cargo)
        refused = await bay.client.delete(f"/v1/cargos/{cargo}", headers=AUTH)
        assert refused.status_code == 409
        assert refused.json()["error"]["details"] == {"active_sandbox_ids": [sandbox_id]}
        await bay.client.delete(f"/v1/sandboxes/{sandbox_id}", headers=AUTH)
        assert (await bay.client.delete(f"/v1/cargos/{cargo}", headers=AUTH)).status_code == 204
        assert (await bay.client.get(f"/v1/cargos/{cargo}", headers=AUTH)).status_code == 404

    async def test_delete_managed_cargo_of_live_sandbox_is_409(self, bay: Bay) -> None:
        sandbox_id = await bay.sandbox()
        info = (await bay.client.get(f"/v1/sandboxes/{sandbox_id}", headers=AUTH)).json()
        refused = await bay.client.delete(f"/v1/cargos/{info['cargo_id']}", headers=AUTH)
        assert refused.status_code == 409
        assert refused.json()["error"]["details"] == {"managed_by_sandbox_id": sandbox_id}

    async def test_unknown_cargo_on_create_is_404(self, bay: Bay) -> None:
        response = await bay.client.post(
            "/v1/sandboxes", json={"cargo_id": "ws-000000000000"}, headers=AUTH
        )
        assert response.status_code == 404
