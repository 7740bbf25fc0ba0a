"""Browser execution through Bay: one command, batches, traces, history, skill runs.

The fake driver's Ship is the real one; only the browser is a stand-in: a small script first
on PATH named `agent-browser` that echoes its arguments and fails on a `fail` argument. It
tests Bay's rules, not the browser (tests/integration/test_browser.py drives real Chromium).
"""

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bay.config import ProfileSettings, Settings
from tests.unit.bay.conftest import AUTH, Bay, make_settings, start_bay
from tests.unit.bay.skill_steps import evaluate, execution

FAKE_BROWSER = """#!/bin/sh
for arg in "$@"; do
  if [ "$arg" = fail ]; then echo "step failed" >&2; exit 1; fi
done
echo "ran: $*"
"""


@pytest.fixture
async def bay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Bay]:
    tools = tmp_path / "bin"
    tools.mkdir()
    script = tools / "agent-browser"
    script.write_text(FAKE_BROWSER)
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    [browser_python] = [p for p in Settings().profiles if p.id == "browser-python"]
    profiles = [ProfileSettings(id="python-default"), browser_python]
    async with start_bay(make_settings(tmp_path / "bay", profiles=profiles)) as running:
        yield running


async def browser_sandbox(bay: Bay, headers: dict[str, str] = AUTH) -> str:
    response = await bay.client.post(
        "/v1/sandboxes", json={"profile": "browser-python"}, headers=headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def post(bay: Bay, sandbox_id: str, path: str, body: Any, headers: Any = AUTH) -> Any:
    response = await bay.client.post(
        f"/v1/sandboxes/{sandbox_id}/browser/{path}", json=body, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def history(bay: Bay, sandbox_id: str, **params: Any) -> list[dict[str, Any]]:
    response = await bay.client.get(
        f"/v1/sandboxes/{sandbox_id}/history", params=params, headers=AUTH
    )
    assert response.status_code == 200, response.text
    return list(response.json()["entries"])


async def trace(bay: Bay, sandbox_id: str, ref: str, headers: Any = AUTH) -> Any:
    return await bay.client.get(f"/v1/sandboxes/{sandbox_id}/browser/traces/{ref}", headers=headers)


class TestExec:
    async def test_a_profile_without_a_browser_refuses(self, bay: Bay) -> None:
        sandbox_id = await bay.sandbox()
        response = await bay.client.post(
            f"/v1/sandboxes/{sandbox_id}/browser/exec", json={"cmd": "snapshot"}, headers=AUTH
        )

        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "capability_not_supported"
        assert error["details"]["capability"] == "browser"
        assert "browser" not in error["details"]["available"]


class TestTraces:
    async def test_an_unknown_trace_is_404(self, bay: Bay) -> None:
        response = await trace(bay, await browser_sandbox(bay), "blob:blob-000000000000")

        assert response.status_code == 404

    async def test_a_ref_that_is_not_a_blob_is_400(self, bay: Bay) -> None:
        response = await trace(bay, await browser_sandbox(bay), "file:/etc/passwd")

        assert response.status_code == 400
        assert response.json()["error"]["code"] == "validation_error"

    async def test_a_skill_payload_is_not_a_trace(self, bay: Bay) -> None:
        sandbox_id = await browser_sandbox(bay)
        ref = await payload(bay, {"commands": ["snapshot"]})

        assert (await trace(bay, sandbox_id, ref)).status_code == 404


async def payload(bay: Bay, body: Any) -> str:
    response = await bay.client.post(
        "/v1/skills/payloads", json={"payload": body, "kind": "browser_skill"}, headers=AUTH
    )
    assert response.status_code == 201, response.text
    return str(response.json()["payload_ref"])


async def skill_release(bay: Bay, sandbox_id: str, key: str, body: Any) -> dict[str, Any]:
    """A release of `key` replaying `body`, from an execution in `sandbox_id`."""
    made = await bay.client.post(
        "/v1/skills/candidates",
        json={
            "skill_key": key,
            "source_execution_ids": [await execution(bay, sandbox_id)],
            "payload_ref": await payload(bay, body),
        },
        headers=AUTH,
    )
    assert made.status_code == 201, made.text
    await evaluate(bay, made.json()["id"], score=0.9)
    promoted = await bay.client.post(
        f"/v1/skills/candidates/{made.json()['id']}/promote",
        json={"stage": "canary"},
        headers=AUTH,
    )
    assert promoted.status_code == 200, promoted.text
    return dict(promoted.json())


class TestSkillRun:
    async def test_no_active_release_is_404(self, bay: Bay) -> None:
        response = await bay.client.post(
            f"/v1/sandboxes/{await browser_sandbox(bay)}/browser/skills/nothing/run",
            json={},
            headers=AUTH,
        )

        assert response.status_code == 404

    @pytest.mark.parametrize("body", [{"steps": ["snapshot"]}, {"commands": []}, ["snapshot"]])
    async def test_a_payload_without_commands_is_400(self, bay: Bay, body: Any) -> None:
        sandbox_id = await browser_sandbox(bay)
        await skill_release(bay, sandbox_id, "broken", body)

        response = await bay.client.post(
            f"/v1/sandboxes/{sandbox_id}/browser/skills/broken/run", json={}, headers=AUTH
        )

        assert response.status_code == 400
        assert response.json()["error"]["code"] == "validation_error"
