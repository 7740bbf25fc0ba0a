"""The browser in the sandbox environment: Debian's Chromium driven by agent-browser (the pinned
npm package's native binary), from a shell and through Ship's /browser endpoints."""

from typing import Any

import pytest

from bay.drivers.base import Instance
from tests.bay_process import REPO
from tests.engines import sh, ship

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(600)]

PAGE = "data:text/html,<title>Hello browser</title><button>Go</button><input placeholder=name>"
NATIVE = "/usr/local/lib/node_modules/agent-browser/bin/agent-browser-linux-x64"


def pinned_version() -> str:
    lines = (REPO / "images" / "sandbox" / "npm-globals.txt").read_text().splitlines()
    return next(line for line in lines if line.startswith("agent-browser@")).partition("@")[2]


async def browser(instance: Instance, cmd: str, timeout: float = 60) -> dict[str, Any]:
    async with ship(instance) as client:
        response = await client.post("/browser/exec", json={"cmd": cmd, "timeout": timeout})
    assert response.status_code == 200, response.text
    step: dict[str, Any] = response.json()
    return step


async def test_chromium_and_the_pinned_agent_browser_are_there(sandbox: Instance) -> None:
    result = await sh(
        sandbox,
        "agent-browser --version && chromium --version && readlink -f $(command -v agent-browser)"
        " && ls /usr/local/lib/node_modules/agent-browser/bin",
    )
    assert result["exit_code"] == 0, result
    lines = result["stdout"].splitlines()
    assert lines[0] == f"agent-browser {pinned_version()}"
    assert lines[1].startswith("Chromium 1"), lines[1]
    assert lines[2] == NATIVE  # the package's own binary, not one its install script fetched
    assert sorted(lines[3:]) == ["agent-browser-linux-x64", "agent-browser.js"]


async def test_agent_browser_drives_chromium_from_a_shell(sandbox: Instance) -> None:
    script = (
        "agent-browser open about:blank && agent-browser get title && agent-browser get url"
        f" && agent-browser open '{PAGE}' && agent-browser get title"
        " && agent-browser snapshot -i; code=$?; agent-browser close; exit $code"
    )
    result = await sh(sandbox, script, timeout=180)
    assert result["exit_code"] == 0, result
    assert "about:blank" in result["stdout"]
    assert "Hello browser" in result["stdout"]
    assert 'button "Go"' in result["stdout"]


async def test_ship_runs_commands_on_the_persistent_profile(sandbox: Instance) -> None:
    opened = await browser(sandbox, f'open "{PAGE}"', timeout=120)
    assert opened["exit_code"] == 0, opened
    title = await browser(sandbox, "get title")
    shot = await browser(sandbox, "screenshot /workspace/page.png")
    files = await sh(sandbox, "file /workspace/page.png; ls /workspace/.browser/profile")
    skill = await sh(sandbox, "head -3 /workspace/skills/browser-automation/SKILL.md")

    assert title["stdout"].strip() == "Hello browser", title
    assert shot["exit_code"] == 0, shot
    assert "PNG image data" in files["stdout"], files
    assert "Default" in files["stdout"], files  # Chromium's profile, on the cargo
    assert "name: browser-automation" in skill["stdout"], skill


async def test_a_timed_out_command_takes_the_browser_down(sandbox: Instance) -> None:
    opened = await browser(sandbox, f'open "{PAGE}"', timeout=120)
    assert opened["exit_code"] == 0, opened
    before = await sh(sandbox, "pgrep -f -- '--user-data-dir=/workspace/.browser/profile' | sort")

    waited = await browser(sandbox, "wait 600000", timeout=3)
    left = await sh(sandbox, "pgrep -f -- '--user-data-dir=/workspace/.browser/profile'")
    again = await browser(sandbox, f'open "{PAGE}"', timeout=120)
    title = await browser(sandbox, "get title")

    assert before["stdout"].split(), before
    assert (waited["exit_code"], waited["timed_out"]) == (-1, True), waited
    assert "timed out" in waited["stderr"]
    assert left["stdout"] == "", left  # no Chromium survives its session's kill
    assert again["exit_code"] == 0, again
    assert title["stdout"].strip() == "Hello browser", title
