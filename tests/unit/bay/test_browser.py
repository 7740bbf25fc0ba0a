"""Browser execution through Bay: one command, batches, traces, history, skill runs.

The fake driver's Ship is the real one; only the browser is a stand-in: a small script first
on PATH named `agent-browser` that echoes its arguments and fails on a `fail` argument (and an
empty `chromium` beside it, so Ship finds a browser to drive). It
tests Bay's rules, not the browser (tests/integration/test_browser.py drives real Chromium).
"""

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bay.config import ProfileSettings, Settings
from bay.services.clock import utcnow
from tests.unit.bay.conftest import AUTH, Bay, change_sandbox, make_settings, start_bay
from tests.unit.bay.skill_steps import evaluate, execution, other_owner
from tests.unit.ship.test_shell import is_gone

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
    for name, text in (("agent-browser", FAKE_BROWSER), ("chromium", "#!/bin/sh\n")):
        (tools / name).write_text(text)
        (tools / name).chmod(0o755)
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


async def test_a_trace_of_a_sandbox_another_replica_deleted_is_404(bay: Bay) -> None:
    sandbox_id = await browser_sandbox(bay)  # remembered by the capability check
    await change_sandbox(bay, sandbox_id, deleted_at=utcnow())
    response = await trace(bay, sandbox_id, "blob:nothing")
    assert response.status_code == 404
    assert response.json()["error"]["message"].startswith("Sandbox not found")


class TestExec:
    async def test_a_command_answers_its_output_and_writes_history(self, bay: Bay) -> None:
        sandbox_id = await browser_sandbox(bay)
        result = await post(bay, sandbox_id, "exec", {"cmd": "open about:blank"})
        [entry] = await history(bay, sandbox_id)

        assert result["success"] is True
        assert result["exit_code"] == 0
        assert "open about:blank" in result["output"]
        assert result["error"] is None
        assert result["trace_ref"] is None
        assert entry["exec_type"] == "browser"
        assert entry["code"] == "open about:blank"
        assert entry["id"] == result["execution_id"]
        assert (entry["payload_ref"], entry["learn_enabled"]) == (None, False)
        assert entry["learn_status"] == "skipped"

    async def test_a_failing_command_is_data(self, bay: Bay) -> None:
        result = await post(bay, await browser_sandbox(bay), "exec", {"cmd": "click fail"})

        assert (result["success"], result["exit_code"]) == (False, 1)
        assert result["error"] == "step failed"

    async def test_include_trace_answers_the_ref_history_keeps(self, bay: Bay) -> None:
        sandbox_id = await browser_sandbox(bay)
        result = await post(bay, sandbox_id, "exec", {"cmd": "snapshot", "include_trace": True})
        [entry] = await history(bay, sandbox_id)
        stored = await trace(bay, sandbox_id, result["trace_ref"])

        assert entry["payload_ref"] == result["trace_ref"]
        assert stored.status_code == 200, stored.text
        assert stored.json()["trace"]["kind"] == "browser_exec_trace"
        [step] = stored.json()["trace"]["steps"]
        assert (step["kind"], step["cmd"], step["exit_code"]) == (
            "individual_action",
            "snapshot",
            0,
        )

    async def test_learn_without_include_trace_sends_the_ref_to_history_only(
        self, bay: Bay
    ) -> None:
        sandbox_id = await browser_sandbox(bay)
        result = await post(bay, sandbox_id, "exec", {"cmd": "open about:blank", "learn": True})
        [entry] = await history(bay, sandbox_id)

        assert result["trace_ref"] is None
        assert entry["payload_ref"].startswith("blob:")
        assert (entry["learn_enabled"], entry["learn_status"]) == (True, "pending")
        assert (await trace(bay, sandbox_id, entry["payload_ref"])).status_code == 200

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


class TestBatch:
    async def test_stop_on_error_stops_after_the_failing_step(self, bay: Bay) -> None:
        sandbox_id = await browser_sandbox(bay)
        commands = ["open about:blank", "click fail", "snapshot"]
        result = await post(
            bay, sandbox_id, "exec_batch", {"commands": commands, "include_trace": True}
        )
        entries = await history(bay, sandbox_id)
        stored = (await trace(bay, sandbox_id, result["trace_ref"])).json()["trace"]

        assert (result["total_steps"], result["completed_steps"]) == (3, 2)
        assert result["success"] is False
        assert [step["exit_code"] for step in result["results"]] == [0, 1]
        [entry] = entries
        assert entry["exec_type"] == "browser_batch"
        assert entry["payload_ref"] == result["trace_ref"]
        assert entry["code"] == "open about:blank\nclick fail\nsnapshot"
        assert entry["success"] is False
        assert entry["error"] == "step failed"
        assert stored["kind"] == "browser_batch_trace"
        summary = {k: stored[k] for k in ("total_steps", "completed_steps", "success")}
        assert summary == {"total_steps": 3, "completed_steps": 2, "success": False}
        assert stored["duration_ms"] == result["duration_ms"]
        assert [s["cmd"] for s in stored["steps"]] == ["open about:blank", "click fail"]
        assert all("duration_ms" in s for s in stored["steps"])

    async def test_without_stop_on_error_every_step_runs(self, bay: Bay) -> None:
        sandbox_id = await browser_sandbox(bay)
        body = {"commands": ["click fail", "snapshot"], "stop_on_error": False}
        result = await post(bay, sandbox_id, "exec_batch", body)
        [entry] = await history(bay, sandbox_id)

        assert (result["completed_steps"], result["success"]) == (2, False)
        assert result["trace_ref"] is None
        assert entry["payload_ref"] is None
        assert "ran: " in entry["output"]

    async def test_history_filters_browser_from_browser_batch(self, bay: Bay) -> None:
        sandbox_id = await browser_sandbox(bay)
        await post(bay, sandbox_id, "exec", {"cmd": "snapshot"})
        await post(bay, sandbox_id, "exec_batch", {"commands": ["snapshot"]})

        singles = await history(bay, sandbox_id, exec_type="browser")
        batches = await history(bay, sandbox_id, exec_type="browser_batch")

        assert [e["exec_type"] for e in singles] == ["browser"]
        assert [e["exec_type"] for e in batches] == ["browser_batch"]


class TestTraces:
    async def test_an_unknown_trace_is_404(self, bay: Bay) -> None:
        response = await trace(bay, await browser_sandbox(bay), "blob:blob-000000000000")

        assert response.status_code == 404

    async def test_a_ref_that_is_not_a_blob_is_400(self, bay: Bay) -> None:
        response = await trace(bay, await browser_sandbox(bay), "file:/etc/passwd")

        assert response.status_code == 400
        assert response.json()["error"]["code"] == "validation_error"

    async def test_another_owners_trace_is_404(self, bay: Bay) -> None:
        sandbox_id = await browser_sandbox(bay)
        result = await post(bay, sandbox_id, "exec", {"cmd": "snapshot", "include_trace": True})
        mallory = await other_owner(bay)
        theirs = await browser_sandbox(bay, mallory)

        response = await trace(bay, theirs, result["trace_ref"], mallory)

        assert response.status_code == 404

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
    async def test_a_release_runs_as_one_tagged_batch(self, bay: Bay) -> None:
        sandbox_id = await browser_sandbox(bay)
        release = await skill_release(
            bay, sandbox_id, "login", {"commands": ["open about:blank", "snapshot"]}
        )
        result = await post(bay, sandbox_id, "skills/login/run", {"tags": "mine, nightly"})
        [entry] = await history(bay, sandbox_id, exec_type="browser_batch")

        assert (result["skill_key"], result["release_id"]) == ("login", release["id"])
        assert (result["total_steps"], result["success"]) == (2, True)
        assert entry["id"] == result["execution_id"]
        assert entry["tags"] == f"mine,nightly,release:{release['id']},skill:login,stage:canary"

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


class TestLearning:
    @pytest.fixture(autouse=True)
    def chromium(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Ship also wants the browser agent-browser drives: the stand-in will do."""
        monkeypatch.setenv("AGENT_BROWSER_EXECUTABLE_PATH", str(tmp_path / "bin" / "agent-browser"))

    async def test_a_batch_run_with_learn_is_released_and_replays(self, bay: Bay) -> None:
        sandbox_id = await browser_sandbox(bay)
        commands = ["open https://example.test", "snapshot -i", "fill @e1 ada", "click @e2"]
        body = {"commands": commands, "learn": True, "tags": "skill:login"}
        await post(bay, sandbox_id, "exec_batch", body)

        learned = await bay.client.post("/v1/admin/browser-learning/run", headers=AUTH)

        assert learned.status_code == 200, learned.text
        assert (learned.json()["processed"], learned.json()["canaries"]) == (1, 1)
        [entry] = await history(bay, sandbox_id)
        assert (entry["learn_status"], entry["learn_error"]) == ("processed", None)
        replay = await post(bay, sandbox_id, "skills/login/run", {})
        assert replay["success"] is True
        assert [step["cmd"] for step in replay["results"]] == commands

    async def test_a_single_command_with_learn_is_skipped(self, bay: Bay) -> None:
        sandbox_id = await browser_sandbox(bay)
        await post(bay, sandbox_id, "exec", {"cmd": "open https://example.test", "learn": True})

        learned = await bay.client.post("/v1/admin/browser-learning/run", headers=AUTH)

        assert learned.json()["skipped"] == 1
        [entry] = await history(bay, sandbox_id)
        assert entry["learn_status"] == "skipped"
        assert entry["learn_error"].startswith("no segment")


class TestTraceSize:
    async def test_a_steps_output_is_kept_head_and_tail_in_its_trace(self, bay: Bay) -> None:
        sandbox_id = await browser_sandbox(bay)
        long = "x" * 100_000
        result = await post(bay, sandbox_id, "exec", {"cmd": f"echo {long}", "include_trace": True})
        stored = (await trace(bay, sandbox_id, result["trace_ref"])).json()["trace"]
        [step] = stored["steps"]
        assert long in result["output"]  # the answer is whole
        assert len(step["stdout"].encode()) <= 64 * 1024 + 100
        assert "characters cut" in step["stdout"]
        assert step["cmd"] == f"echo {long}"


class TestStop:
    """Drivers end a session with SIGKILL; Chromium keeps cookies in memory for up to 30 s."""

    @pytest.fixture
    async def daemon_bay(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> AsyncIterator[Bay]:
        """Ship's stand-in agent-browser, which leaves a daemon running like the real one."""
        chromium = tmp_path / "bin" / "chromium"
        chromium.parent.mkdir()
        chromium.write_text("#!/bin/sh\n")
        chromium.chmod(0o755)
        stand_in = Path(__file__).parent.parent / "ship" / "fake_browser"
        monkeypatch.setenv("PATH", f"{stand_in}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setenv("AGENT_BROWSER_EXECUTABLE_PATH", str(chromium))
        monkeypatch.setenv("AGENT_BROWSER_SOCKET_DIR", str(tmp_path / "sockets"))
        monkeypatch.setenv("FAKE_BROWSER_LOG", str(tmp_path / "calls.jsonl"))
        [browser_python] = [p for p in Settings().profiles if p.id == "browser-python"]
        async with start_bay(make_settings(tmp_path / "bay", profiles=[browser_python])) as running:
            yield running

    async def test_a_stop_closes_the_browser_first_so_its_profile_is_written(
        self, daemon_bay: Bay, tmp_path: Path
    ) -> None:
        sandbox_id = await browser_sandbox(daemon_bay)
        await post(daemon_bay, sandbox_id, "exec", {"cmd": "open https://example.test/"})
        daemon = int((tmp_path / "sockets" / f"{sandbox_id}.pid").read_text())

        stopped = await daemon_bay.client.post(f"/v1/sandboxes/{sandbox_id}/stop", headers=AUTH)

        assert stopped.status_code == 200, stopped.text
        calls = [
            json.loads(line)["argv"] for line in (tmp_path / "calls.jsonl").read_text().splitlines()
        ]
        assert [argv[4:] for argv in calls] == [["open", "https://example.test/"], ["close"]]
        assert calls[-1][:2] == ["--session", sandbox_id]
        assert is_gone(daemon)
