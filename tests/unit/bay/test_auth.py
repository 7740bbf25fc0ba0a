"""Authentication, owner scoping and key provisioning."""

import json
import stat
from pathlib import Path

from tests.unit.bay.conftest import AUTH, Bay, make_settings, start_bay


class TestAuthentication:
    async def test_no_token_is_401(self, bay: Bay) -> None:
        response = await bay.client.get("/v1/sandboxes")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"

    async def test_wrong_token_is_401(self, bay: Bay) -> None:
        response = await bay.client.get("/v1/sandboxes", headers={"Authorization": "Bearer nope"})
        assert response.status_code == 401
        assert response.json()["error"]["message"] == "Invalid API key"

    async def test_health_and_profiles_need_no_auth(self, bay: Bay) -> None:
        assert (await bay.client.get("/health")).json()["status"] == "ok"
        profiles = (await bay.client.get("/v1/profiles")).json()["items"]
        assert [p["id"] for p in profiles] == ["python-default", "python-only"]
        assert profiles[0]["containers"] is None

    async def test_profiles_detail_shows_containers(self, bay: Bay) -> None:
        profiles = (await bay.client.get("/v1/profiles?detail=true")).json()["items"]
        assert profiles[0]["containers"][0]["name"] == "primary"


class TestOwnerScoping:
    async def test_other_owner_sees_404_everywhere(self, tmp_path: Path) -> None:
        settings = make_settings(tmp_path, security={"allow_anonymous": True})
        async with start_bay(settings) as bay:
            mine = {"X-Owner": "alice"}
            created = await bay.client.post("/v1/sandboxes", json={}, headers=mine)
            base = f"/v1/sandboxes/{created.json()['id']}"
            theirs = {"X-Owner": "mallory"}
            calls = [
                bay.client.get(base, headers=theirs),
                bay.client.post(f"{base}/stop", headers=theirs),
                bay.client.delete(base, headers=theirs),
                bay.client.post(f"{base}/shell/exec", json={"command": "id"}, headers=theirs),
                bay.client.get(f"{base}/filesystem/directories", headers=theirs),
            ]
            for call in calls:
                assert (await call).status_code == 404
            listed = await bay.client.get("/v1/sandboxes", headers=theirs)
            assert listed.json()["items"] == []
            assert (await bay.client.get(base, headers=mine)).status_code == 200


class TestProvisioning:
    async def test_first_start_generates_a_key_in_credentials_json(self, tmp_path: Path) -> None:
        settings = make_settings(tmp_path, api_key=None)
        async with start_bay(settings) as bay:
            path = tmp_path / "credentials.json"
            saved = json.loads(path.read_text())
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            assert saved["api_key"].startswith("sk-bay-")
            auth = {"Authorization": f"Bearer {saved['api_key']}"}
            assert (await bay.client.get("/v1/sandboxes", headers=auth)).status_code == 200

    async def test_second_start_keeps_the_generated_key(self, tmp_path: Path) -> None:
        settings = make_settings(tmp_path, api_key=None)
        async with start_bay(settings) as _:
            pass
        first = json.loads((tmp_path / "credentials.json").read_text())["api_key"]
        async with start_bay(settings) as bay:
            auth = {"Authorization": f"Bearer {first}"}
            assert (await bay.client.get("/v1/sandboxes", headers=auth)).status_code == 200

    async def test_configured_key_writes_no_credentials(self, bay: Bay, tmp_path: Path) -> None:
        assert (await bay.client.get("/v1/sandboxes", headers=AUTH)).status_code == 200
        assert not (tmp_path / "credentials.json").exists()
