"""Every timestamp Bay writes is RFC 3339 in UTC with `Z` (issue 14, item 9)."""

import json
import re
from pathlib import Path
from typing import Any

from tests.unit.bay.conftest import AUTH, Bay, FakeClock, make_settings, start_bay

RFC3339_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def timestamps(body: Any) -> dict[str, str]:
    """Every `*_at` value in a JSON body, by key path."""
    found: dict[str, str] = {}

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key.endswith("_at") and isinstance(item, str):
                    found[f"{path}.{key}"] = item
                walk(item, f"{path}.{key}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{path}[{index}]")

    walk(body, "")
    return found


async def bodies(bay: Bay) -> list[Any]:
    sandbox_id = await bay.sandbox(ttl=600)
    base = f"/v1/sandboxes/{sandbox_id}"
    await bay.client.post(f"{base}/python/exec", json={"code": "1"}, headers=AUTH)
    calls = [
        ("GET", base, None),
        ("GET", "/v1/sandboxes", None),
        ("POST", f"{base}/extend_ttl", {"extend_by": 60}),
        ("POST", "/v1/cargos", {}),
        ("GET", "/v1/cargos", None),
        ("GET", f"{base}/history", None),
        ("POST", "/v1/admin/keys", {"owner": "alice"}),
        ("GET", "/v1/admin/keys", None),
        ("POST", f"{base}/ports/8000/url", {}),
    ]
    answers = []
    for method, url, body in calls:
        response = await bay.client.request(method, url, json=body, headers=AUTH)
        assert response.status_code < 300, (url, response.text)
        answers.append(response.json())
    return answers


async def test_every_timestamp_in_answers_is_utc_with_z(bay: Bay) -> None:
    found: dict[str, str] = {}
    for index, body in enumerate(await bodies(bay)):
        found |= {f"{index}{path}": value for path, value in timestamps(body).items()}

    names = {path.rsplit(".", 1)[-1] for path in found}
    assert {"created_at", "expires_at", "idle_expires_at", "last_accessed_at"} <= names
    assert {path: value for path, value in found.items() if not RFC3339_Z.match(value)} == {}


async def test_expired_sandbox_error_says_when_in_utc(bay: Bay, clock: FakeClock) -> None:
    sandbox_id = await bay.sandbox(ttl=60)
    clock.advance(61)
    response = await bay.client.post(
        f"/v1/sandboxes/{sandbox_id}/shell/exec", json={"command": "true"}, headers=AUTH
    )
    expires_at = response.json()["error"]["details"]["expires_at"]
    assert RFC3339_Z.match(expires_at)
    assert f"expired at {expires_at}" in response.json()["error"]["message"]


async def test_credentials_json_generated_at_is_utc_with_z(tmp_path: Path) -> None:
    async with start_bay(make_settings(tmp_path, api_key=None)):
        saved = json.loads((tmp_path / "credentials.json").read_text())
    assert RFC3339_Z.match(saved["generated_at"])
