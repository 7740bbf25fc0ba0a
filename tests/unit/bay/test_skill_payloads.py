"""Skill payloads: JSON blobs stored per owner and read back by reference."""

from tests.unit.bay.conftest import AUTH, Bay
from tests.unit.bay.skill_steps import other_owner


class TestCreatePayload:
    async def test_object_round_trips_with_its_kind(self, bay: Bay) -> None:
        payload = {"commands": ["open https://example.com", "snapshot"], "note": "é"}
        created = await bay.client.post(
            "/v1/skills/payloads", json={"payload": payload, "kind": "browser"}, headers=AUTH
        )
        assert created.status_code == 201
        ref = created.json()["payload_ref"]
        assert ref.startswith("blob:blob-")
        assert created.json()["kind"] == "browser"
        read = await bay.client.get(f"/v1/skills/payloads/{ref}", headers=AUTH)
        assert read.status_code == 200
        assert read.json() == {"payload_ref": ref, "kind": "browser", "payload": payload}

    async def test_array_payload_and_default_kind(self, bay: Bay) -> None:
        created = await bay.client.post(
            "/v1/skills/payloads", json={"payload": [1, "two"]}, headers=AUTH
        )
        ref = created.json()["payload_ref"]
        assert created.json()["kind"] == "generic"
        read = await bay.client.get(f"/v1/skills/payloads/{ref}", headers=AUTH)
        assert read.json()["payload"] == [1, "two"]

    async def test_scalar_payload_is_422(self, bay: Bay) -> None:
        response = await bay.client.post("/v1/skills/payloads", json={"payload": 3}, headers=AUTH)
        assert response.status_code == 422

    async def test_empty_kind_is_422(self, bay: Bay) -> None:
        response = await bay.client.post(
            "/v1/skills/payloads", json={"payload": {}, "kind": ""}, headers=AUTH
        )
        assert response.status_code == 422


class TestGetPayload:
    async def test_ref_without_blob_prefix_is_400(self, bay: Bay) -> None:
        response = await bay.client.get("/v1/skills/payloads/file:blob-123", headers=AUTH)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "validation_error"

    async def test_unknown_ref_is_404(self, bay: Bay) -> None:
        response = await bay.client.get("/v1/skills/payloads/blob:blob-000000000000", headers=AUTH)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"

    async def test_other_owners_payload_is_404(self, bay: Bay) -> None:
        created = await bay.client.post("/v1/skills/payloads", json={"payload": {}}, headers=AUTH)
        ref = created.json()["payload_ref"]
        theirs = await other_owner(bay)
        response = await bay.client.get(f"/v1/skills/payloads/{ref}", headers=theirs)
        assert response.status_code == 404

    async def test_needs_auth(self, bay: Bay) -> None:
        response = await bay.client.post("/v1/skills/payloads", json={"payload": {}})
        assert response.status_code == 401


class TestHostileJson:
    async def test_non_finite_numbers_and_lone_surrogates_are_422(self, bay: Bay) -> None:
        for text in ('{"payload": {"x": NaN}}', '{"payload": ["\\ud800"]}'):
            response = await bay.client.post(
                "/v1/skills/payloads",
                content=text,
                headers={**AUTH, "content-type": "application/json"},
            )
            assert response.status_code == 422, text
