"""Admin API: keys per owner, revocation, 403 for non-admins, GC run and status."""

from tests.unit.bay.conftest import AUTH, Bay


async def new_key(bay: Bay, owner: str) -> dict[str, str]:
    response = await bay.client.post("/v1/admin/keys", json={"owner": owner}, headers=AUTH)
    assert response.status_code == 201, response.text
    return dict(response.json())


def bearer(key: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {key['api_key']}"}


class TestKeys:
    async def test_each_key_has_its_own_owner(self, bay: Bay) -> None:
        alice, bob = await new_key(bay, "alice"), await new_key(bay, "bob")
        created = await bay.client.post("/v1/sandboxes", json={}, headers=bearer(alice))
        sandbox_id = created.json()["id"]
        assert (
            await bay.client.get(f"/v1/sandboxes/{sandbox_id}", headers=bearer(bob))
        ).status_code == 404
        assert (
            await bay.client.get(f"/v1/sandboxes/{sandbox_id}", headers=bearer(alice))
        ).status_code == 200

    async def test_listing_never_shows_secrets(self, bay: Bay) -> None:
        key = await new_key(bay, "carol")
        listed = (await bay.client.get("/v1/admin/keys", headers=AUTH)).json()["items"]
        assert key["api_key"] not in str(listed)
        assert {item["owner"] for item in listed} == {"default", "carol"}

    async def test_revoked_key_is_401_at_once(self, bay: Bay) -> None:
        key = await new_key(bay, "dave")
        # Used first, so this Bay remembers it: the revocation must still hold at once.
        assert (await bay.client.get("/v1/sandboxes", headers=bearer(key))).status_code == 200
        revoked = await bay.client.delete(f"/v1/admin/keys/{key['id']}", headers=AUTH)
        assert revoked.status_code == 204
        response = await bay.client.get("/v1/sandboxes", headers=bearer(key))
        assert response.status_code == 401

    async def test_non_admin_gets_403(self, bay: Bay) -> None:
        key = await new_key(bay, "erin")
        for call in (
            bay.client.get("/v1/admin/keys", headers=bearer(key)),
            bay.client.post("/v1/admin/keys", json={"owner": "x"}, headers=bearer(key)),
            bay.client.post("/v1/admin/gc/run", headers=bearer(key)),
        ):
            response = await call
            assert response.status_code == 403
            assert response.json()["error"]["code"] == "forbidden"


class TestGcApi:
    async def test_status_lists_tasks(self, bay: Bay) -> None:
        body = (await bay.client.get("/v1/admin/gc/status", headers=AUTH)).json()
        assert set(body["tasks"]) == {
            "idle_session",
            "expired_sandbox",
            "orphan_cargo",
            "orphan_instance",
            "history_retention",
        }
        assert body["is_running"] is False

    async def test_run_with_tasks_runs_only_those(self, bay: Bay) -> None:
        response = await bay.client.post(
            "/v1/admin/gc/run", json={"tasks": ["idle_session"]}, headers=AUTH
        )
        assert [r["task_name"] for r in response.json()["results"]] == ["idle_session"]

    async def test_run_without_body_runs_all(self, bay: Bay) -> None:
        response = await bay.client.post("/v1/admin/gc/run", headers=AUTH)
        assert len(response.json()["results"]) == 5
