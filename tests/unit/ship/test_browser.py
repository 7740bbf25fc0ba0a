"""POST /browser/exec and /browser/exec_batch: Ship's own rules, with a fake agent-browser first
on PATH (fake_browser/agent-browser; real Chromium runs in tests/environment)."""

import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ship.browser import Browser
from ship.shell import Shell

from .conftest import StartShip
from .test_shell import is_gone

FAKE = Path(__file__).parent / "fake_browser"


@dataclass
class FakeBrowser:
    log: Path
    sockets: Path
    # Ship's kill finds the browser's processes by session: tests in parallel use their own.
    session: str

    def calls(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def argv(self) -> list[str]:
        argv: list[str] = self.calls()[-1]["argv"]
        return argv

    def daemon(self) -> tuple[int, int]:
        """The fake daemon's pid and its browser child's."""
        base = f"{self.sockets / self.session}"
        return int(Path(f"{base}.daemon").read_text()), int(Path(f"{base}.browser").read_text())

    async def hanging(self) -> int:
        """The pid of a `hang` command, once it hangs."""
        marker = Path(f"{self.log}.hanging")
        deadline = time.monotonic() + 30
        while not marker.exists() or not marker.read_text():
            assert time.monotonic() < deadline, "the hanging command never started"
            await asyncio.sleep(0.05)
        return int(marker.read_text())


@pytest.fixture
def fake_browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeBrowser:
    chromium = tmp_path / "bin" / "chromium"
    chromium.parent.mkdir()
    chromium.write_text("#!/bin/sh\n")
    chromium.chmod(0o755)
    session = f"test-{uuid.uuid4().hex[:12]}"
    fake = FakeBrowser(tmp_path / "calls.jsonl", tmp_path / "sockets", session)
    monkeypatch.setenv("PATH", f"{FAKE}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("AGENT_BROWSER_EXECUTABLE_PATH", str(chromium))
    monkeypatch.setenv("AGENT_BROWSER_SOCKET_DIR", str(fake.sockets))
    monkeypatch.setenv("FAKE_BROWSER_LOG", str(fake.log))
    return fake


@pytest.fixture
async def client(
    start_ship: StartShip, fake_browser: FakeBrowser
) -> AsyncIterator[httpx.AsyncClient]:
    async with start_ship(sandbox_id=fake_browser.session) as client:
        yield client


async def run(client: httpx.AsyncClient, cmd: str, **fields: Any) -> dict[str, Any]:
    response = await client.post("/browser/exec", json={"cmd": cmd, **fields})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def batch(client: httpx.AsyncClient, commands: list[str], **fields: Any) -> dict[str, Any]:
    response = await client.post("/browser/exec_batch", json={"commands": commands, **fields})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class TestExec:
    async def test_injects_session_and_profile(
        self, client: httpx.AsyncClient, fake_browser: FakeBrowser, workspace: Path
    ) -> None:
        step = await run(client, "open https://example.com")

        assert step["exit_code"] == 0
        assert step["stdout"] == "opened https://example.com\n"
        profile = str(workspace / ".browser" / "profile")
        assert fake_browser.argv() == [
            *("--session", fake_browser.session, "--profile", profile),
            *("open", "https://example.com"),
        ]
        assert fake_browser.calls()[-1]["cwd"] == str(workspace)
        assert Path(profile).is_dir()

    async def test_splits_like_a_shell_without_one(
        self, client: httpx.AsyncClient, fake_browser: FakeBrowser
    ) -> None:
        step = await run(client, "echo @e1 \"Jane Doe\" '$HOME' 'a && b'")

        assert json.loads(step["stdout"]) == ["@e1", "Jane Doe", "$HOME", "a && b"]

    async def test_a_leading_agent_browser_is_dropped(
        self, client: httpx.AsyncClient, fake_browser: FakeBrowser
    ) -> None:
        await run(client, "agent-browser echo hi")

        assert fake_browser.argv()[4:] == ["echo", "hi"]

    async def test_a_malformed_quote_is_a_validation_error(
        self, client: httpx.AsyncClient, fake_browser: FakeBrowser
    ) -> None:
        response = await client.post("/browser/exec", json={"cmd": 'fill @e1 "unclosed'})

        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert "cannot be split into words" in error["message"]
        assert "No closing quotation" in error["message"]
        assert fake_browser.calls() == []

    async def test_the_session_is_the_sandbox_id(
        self, client: httpx.AsyncClient, fake_browser: FakeBrowser
    ) -> None:
        await run(client, "echo hi")

        assert fake_browser.argv()[:2] == ["--session", fake_browser.session]

    async def test_without_a_usable_sandbox_id_the_session_has_a_fixed_name(
        self, workspace: Path
    ) -> None:
        assert Browser(Shell(1024), workspace, None).session == "shipyard"
        assert Browser(Shell(1024), workspace, "not a name").session == "shipyard"

    async def test_a_failing_command_is_data(self, client: httpx.AsyncClient) -> None:
        step = await run(client, "fail")

        assert (step["exit_code"], step["timed_out"]) == (1, False)
        assert step["stderr"] == "no element matches\n"

    async def test_output_is_capped_like_the_shell(self, client: httpx.AsyncClient) -> None:
        step = await run(client, f"spam {200 * 1024}")  # the fixture's limit is 64 KiB

        assert len(step["stdout"]) < 70 * 1024
        assert "truncated" in step["stdout"]


class TestTimeout:
    async def test_kills_the_command_and_the_browser(
        self, client: httpx.AsyncClient, fake_browser: FakeBrowser
    ) -> None:
        step = await run(client, "hang", timeout=2)

        assert (step["exit_code"], step["timed_out"]) == (-1, True)
        assert "timed out after 2 s" in step["stderr"]
        cli = int(Path(f"{fake_browser.log}.hanging").read_text())
        daemon, browser = fake_browser.daemon()
        assert all(is_gone(pid) for pid in (cli, daemon, browser))
        # The daemon's files go with it: the next command cannot take a dying one for alive.
        assert not (fake_browser.sockets / f"{fake_browser.session}.pid").exists()

    async def test_the_next_command_starts_a_new_browser(
        self, client: httpx.AsyncClient, fake_browser: FakeBrowser
    ) -> None:
        await run(client, "hang", timeout=2)
        old_daemon, _ = fake_browser.daemon()

        step = await run(client, "open about:blank")

        assert step["exit_code"] == 0
        new_daemon, browser = fake_browser.daemon()
        assert new_daemon != old_daemon
        assert not is_gone(browser, within=0)


class TestBatch:
    async def test_runs_in_order(self, client: httpx.AsyncClient) -> None:
        result = await batch(client, ["echo one", "echo two"])

        assert [json.loads(step["stdout"]) for step in result["results"]] == [["one"], ["two"]]
        assert [step["step_index"] for step in result["results"]] == [0, 1]
        assert (result["total_steps"], result["completed_steps"], result["success"]) == (
            2,
            2,
            True,
        )
        assert all(step["duration_ms"] >= 0 for step in result["results"])
        assert result["duration_ms"] >= sum(step["duration_ms"] for step in result["results"])

    async def test_stops_after_the_first_failure(self, client: httpx.AsyncClient) -> None:
        result = await batch(client, ["echo one", "fail", "echo three"])

        assert (result["total_steps"], result["completed_steps"], result["success"]) == (
            3,
            2,
            False,
        )
        assert result["results"][-1]["exit_code"] == 1

    async def test_goes_on_without_stop_on_error(self, client: httpx.AsyncClient) -> None:
        result = await batch(client, ["fail", "echo two"], stop_on_error=False)

        assert (result["completed_steps"], result["success"]) == (2, False)

    async def test_steps_share_the_batch_timeout(
        self, client: httpx.AsyncClient, fake_browser: FakeBrowser
    ) -> None:
        started = time.monotonic()
        result = await batch(client, ["echo one", "hang", "echo three"], timeout=3)

        assert time.monotonic() - started < 20  # not 3 s per step, nor the hang's 1000 s
        hung = result["results"][1]
        assert (hung["exit_code"], hung["timed_out"]) == (-1, True)
        assert (result["completed_steps"], result["success"]) == (2, False)

    async def test_a_malformed_command_refuses_the_whole_batch(
        self, client: httpx.AsyncClient, fake_browser: FakeBrowser
    ) -> None:
        response = await client.post(
            "/browser/exec_batch", json={"commands": ["echo one", "echo 'two"]}
        )

        assert response.status_code == 400
        assert fake_browser.calls() == []


class TestSkill:
    async def test_placed_on_first_use(self, client: httpx.AsyncClient, workspace: Path) -> None:
        await run(client, "echo hi")

        skill = (workspace / "skills" / "browser-automation" / "SKILL.md").read_text()
        assert skill.startswith("---\nname: browser-automation\n")
        assert "snapshot" in skill

    async def test_a_users_copy_is_kept(self, client: httpx.AsyncClient, workspace: Path) -> None:
        skill = workspace / "skills" / "browser-automation" / "SKILL.md"
        skill.parent.mkdir(parents=True)
        skill.write_text("my notes\n")

        await run(client, "echo hi")

        assert skill.read_text() == "my notes\n"


class TestAvailability:
    async def test_health_says_the_browser_is_there(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/health")).json()["browser"] is True

    async def test_without_agent_browser(
        self, start_ship: StartShip, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
        async with start_ship() as client:
            health = (await client.get("/health")).json()
            response = await client.post("/browser/exec", json={"cmd": "open about:blank"})

        assert health["browser"] is False
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "capability_not_supported"

    async def test_a_running_command_is_activity(
        self, client: httpx.AsyncClient, fake_browser: FakeBrowser
    ) -> None:
        command = asyncio.create_task(run(client, "hang", timeout=60))
        await fake_browser.hanging()

        busy = (await client.get("/activity")).json()
        cli = await fake_browser.hanging()
        os.kill(cli, 9)
        await command

        assert busy["running_executions"] == 1
        assert (await client.get("/activity")).json()["running_executions"] == 0


async def test_shutdown_kills_running_commands_and_the_browser(
    fake_browser: FakeBrowser, workspace: Path
) -> None:
    browser = Browser(Shell(64 * 1024), workspace, fake_browser.session)
    command = asyncio.create_task(browser.run("hang", 60))
    cli = await fake_browser.hanging()

    await browser.shutdown()
    step = await command

    daemon, child = fake_browser.daemon()
    assert step.exit_code != 0
    assert all(is_gone(pid) for pid in (cli, daemon, child))
    assert fake_browser.argv()[4:] == ["close"]


class TestPrestart:
    async def test_a_warm_sandbox_launches_its_browser_before_it_is_ready(
        self, start_ship: StartShip, fake_browser: FakeBrowser
    ) -> None:
        async with start_ship(sandbox_id=fake_browser.session, prestart_browser=True) as client:
            # Nothing asked for the browser yet: the launch happened while Ship started.
            assert [call["argv"][4:] for call in fake_browser.calls()] == [["open", "about:blank"]]
            daemon, _ = fake_browser.daemon()
            assert is_running(daemon)
            await run(client, "snapshot")
            assert fake_browser.daemon()[0] == daemon  # the same browser served the command

    async def test_without_the_switch_nothing_launches(
        self, start_ship: StartShip, fake_browser: FakeBrowser
    ) -> None:
        async with start_ship(sandbox_id=fake_browser.session):
            assert fake_browser.calls() == []

    async def test_a_failed_launch_does_not_keep_ship_from_starting(
        self, start_ship: StartShip, fake_browser: FakeBrowser, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AGENT_BROWSER_EXECUTABLE_PATH", "/nonexistent/chromium")
        async with start_ship(sandbox_id=fake_browser.session, prestart_browser=True) as client:
            assert (await client.get("/health")).json()["browser"] is False
        assert fake_browser.calls() == []


def is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


class TestRecovery:
    async def test_a_daemon_that_died_starting_is_replaced_and_the_command_run_once_more(
        self, client: httpx.AsyncClient, fake_browser: FakeBrowser, tmp_path: Path
    ) -> None:
        """The command never ran (agent-browser says so): running it on a new browser is safe."""
        marker = tmp_path / "stumbled"
        result = await run(client, f"stumble {marker}")
        assert (result["exit_code"], result["stdout"]) == (0, "ran\n")
        assert [call["argv"][4:] for call in fake_browser.calls()] == [["stumble", str(marker)]] * 2

    async def test_a_silent_daemon_is_not_run_again_but_replaced_for_the_next_command(
        self, client: httpx.AsyncClient, fake_browser: FakeBrowser
    ) -> None:
        """It may have run (a click twice is not harmless): the error stands."""
        result = await run(client, "mute")
        daemon, child = fake_browser.daemon()
        assert result["exit_code"] == 1
        assert "no response" in result["stderr"]
        assert len(fake_browser.calls()) == 1
        assert is_gone(daemon)
        assert is_gone(child)


class TestClose:
    async def test_close_lets_the_browser_write_its_profile_then_ends_it(
        self, client: httpx.AsyncClient, fake_browser: FakeBrowser
    ) -> None:
        await run(client, "open https://example.test/")
        daemon, child = fake_browser.daemon()

        closed = await client.post("/browser/close")

        assert closed.json() == {"closed": True}
        assert fake_browser.argv()[4:] == ["close"]
        assert is_gone(daemon)
        assert is_gone(child)

    async def test_nothing_to_close_is_said_and_starts_nothing(
        self, client: httpx.AsyncClient, fake_browser: FakeBrowser
    ) -> None:
        closed = await client.post("/browser/close")

        assert closed.json() == {"closed": False}
        assert fake_browser.calls() == []


class TestTurns:
    async def test_a_second_command_waits_for_the_first_and_its_kill(
        self, client: httpx.AsyncClient, fake_browser: FakeBrowser
    ) -> None:
        """A timed-out command takes the browser down: never under another's command."""
        hanging = asyncio.create_task(run(client, "hang", timeout=2))
        await fake_browser.hanging()
        second = asyncio.create_task(run(client, "echo after"))

        done, _ = await asyncio.wait({hanging, second}, return_when=asyncio.FIRST_COMPLETED)

        assert done == {hanging}
        assert hanging.result()["timed_out"] is True
        assert (await second)["stdout"] == '["after"]\n'

    async def test_waiting_counts_against_the_timeout(
        self, client: httpx.AsyncClient, fake_browser: FakeBrowser
    ) -> None:
        hanging = asyncio.create_task(run(client, "hang", timeout=5))
        await fake_browser.hanging()

        waited = await run(client, "echo never", timeout=1)

        assert (waited["exit_code"], waited["timed_out"]) == (-1, True)
        assert "waited 1 s for the browser's previous command" in waited["stderr"]
        assert [call["argv"][4:] for call in fake_browser.calls()] == [["hang"]]
        await hanging


class TestShipsOptions:
    @pytest.mark.parametrize(
        "cmd",
        [
            "--session other open about:blank",
            "open about:blank --profile=/tmp/elsewhere",
            "--executable-path /bin/sh open about:blank",
            "--cdp 9222 snapshot",
        ],
    )
    async def test_a_command_cannot_pick_another_browser(
        self, client: httpx.AsyncClient, fake_browser: FakeBrowser, cmd: str
    ) -> None:
        """Such a browser would escape the timeout's kill and the close before a stop."""
        response = await client.post("/browser/exec", json={"cmd": cmd})
        assert response.status_code == 400
        assert "set by Ship" in response.json()["error"]["message"]
        assert fake_browser.calls() == []
