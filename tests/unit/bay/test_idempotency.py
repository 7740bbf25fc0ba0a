"""Idempotency-Key on create, extend_ttl and cargo create: atomic, replayed byte for byte."""

import asyncio

from tests.unit.bay.conftest import AUTH, Bay


def keyed(key: str) -> dict[str, str]:
    return {**AUTH, "Idempotency-Key": key}


class TestCreate:
    async def test_same_key_replays_the_same_sandbox(self, bay: Bay) -> None:
        first = await bay.client.post("/v1/sandboxes", json={}, headers=keyed("k1"))
        again = await bay.client.post(
            "/v1/sandboxes", json={"profile": "python-default"}, headers=keyed("k1")
        )
        assert (first.status_code, again.status_code) == (201, 201)
        assert again.content == first.content

    async def test_fifty_concurrent_duplicates_create_one_sandbox(self, bay: Bay) -> None:
        calls = [
            bay.client.post("/v1/sandboxes", json={}, headers=keyed("burst")) for _ in range(50)
        ]
        responses = await asyncio.gather(*calls)
        assert {r.status_code for r in responses} == {201}
        assert len({r.content for r in responses}) == 1
        listed = (await bay.client.get("/v1/sandboxes", headers=AUTH)).json()["items"]
        assert len(listed) == 1

    async def test_other_body_same_key_is_409(self, bay: Bay) -> None:
        await bay.client.post("/v1/sandboxes", json={}, headers=keyed("k2"))
        response = await bay.client.post("/v1/sandboxes", json={"ttl": 5}, headers=keyed("k2"))
        assert response.status_code == 409
        assert response.json()["error"]["details"]["key"] == "k2"

    async def test_invalid_key_is_409(self, bay: Bay) -> None:
        response = await bay.client.post("/v1/sandboxes", json={}, headers=keyed("has spaces"))
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "conflict"

    async def test_errors_are_not_remembered(self, bay: Bay) -> None:
        bad = await bay.client.post("/v1/sandboxes", json={"profile": "x"}, headers=keyed("k3"))
        assert bad.status_code == 400
        retried = await bay.client.post("/v1/sandboxes", json={"profile": "x"}, headers=keyed("k3"))
        assert retried.status_code == 400

    async def test_same_key_on_another_endpoint_is_409(self, bay: Bay) -> None:
        await bay.client.post("/v1/sandboxes", json={}, headers=keyed("k4"))
        response = await bay.client.post("/v1/cargos", json={}, headers=keyed("k4"))
        assert response.status_code == 409


class TestOtherEndpoints:
    async def test_cargo_create_replays(self, bay: Bay) -> None:
        first = await bay.client.post("/v1/cargos", headers=keyed("c1"))
        again = await bay.client.post("/v1/cargos", headers=keyed("c1"))
        assert again.content == first.content
        listed = (await bay.client.get("/v1/cargos", headers=AUTH)).json()["items"]
        assert len(listed) == 1

    async def test_extend_ttl_replays_instead_of_extending_twice(self, bay: Bay) -> None:
        sandbox_id = await bay.sandbox(ttl=60)
        url = f"/v1/sandboxes/{sandbox_id}/extend_ttl"
        first = await bay.client.post(url, json={"extend_by": 100}, headers=keyed("e1"))
        again = await bay.client.post(url, json={"extend_by": 100}, headers=keyed("e1"))
        assert again.content == first.content
        now = (await bay.client.get(f"/v1/sandboxes/{sandbox_id}", headers=AUTH)).json()
        assert now["expires_at"] == first.json()["expires_at"]
