"""Our SDK, CLI and MCP server drive real Chromium through a real Bay, on each driver (their
unit tests use a stand-in agent-browser; this is the browser itself)."""

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shipyard import AsyncClient, Client
from shipyard_mcp.config import Settings
from shipyard_mcp.server import create_server
from tests.bay_process import API_KEY, BayProcess, clean_up, traversable_tmp
from tests.engines import require
from tests.unit.mcp.conftest import call

pytestmark = pytest.mark.timeout(900)

VARIANTS = [
    pytest.param("local", marks=pytest.mark.local),
    pytest.param("docker", marks=pytest.mark.docker),
]
SHIPYARD = str(Path(sys.executable).with_name("shipyard"))
# Chromium's first start on a busy 2-core machine is slow; a command gets this long.
TIMEOUT = 120


@dataclass(frozen=True)
class Live:
    bay: BayProcess
    sandbox_id: str


@pytest.fixture(scope="module", params=VARIANTS)
def live(request: pytest.FixtureRequest) -> Iterator[Live]:
    variant = require(request.param)
    with traversable_tmp() as base:
        bay = BayProcess(base / "data", {"gc": {"enabled": False}}, variant)
        bay.start()
        try:
            with Client(bay.url, API_KEY) as client:
                sandbox = client.sandboxes.create("browser-python")
            yield Live(bay, sandbox.id)
        finally:
            clean_up(bay)


def test_the_sdk_runs_commands_and_batches(live: Live) -> None:
    with Client(live.bay.url, API_KEY) as client:
        browser = client.sandboxes.get(live.sandbox_id).browser
        opened = browser.exec("open about:blank", timeout=TIMEOUT)
        batch = browser.exec_batch(["get url", "click #missing", "get title"], timeout=TIMEOUT)

    assert opened.success, opened
    assert "about:blank" in opened.output
    assert (batch.total_steps, batch.completed_steps, batch.success) == (3, 2, False)
    assert batch.results[0].stdout.strip() == "about:blank"


def test_the_cli_runs_a_batch_and_says_which_step_failed(live: Live) -> None:
    env = dict(os.environ, SHIPYARD_ENDPOINT=live.bay.url, SHIPYARD_API_KEY=API_KEY)
    argv = [SHIPYARD, "browser", "-s", live.sandbox_id, "--timeout", str(TIMEOUT)]

    done = subprocess.run(
        [*argv, "open about:blank", "get url"], env=env, capture_output=True, text=True, timeout=600
    )
    failed = subprocess.run(
        [*argv, "click #missing"], env=env, capture_output=True, text=True, timeout=600
    )

    assert done.returncode == 0, done.stderr
    assert "about:blank" in done.stdout
    assert failed.returncode != 0
    assert "Traceback" not in failed.stderr


async def test_the_mcp_server_lists_and_calls_the_browser_tools(live: Live) -> None:
    settings = Settings(endpoint=live.bay.url, token=API_KEY)
    async with AsyncClient(settings.endpoint, settings.token) as shared:
        server = create_server(settings, shared)
        tools = {tool.name for tool in await server.list_tools()}
        one = await call(
            server, "execute_browser", sandbox_id=live.sandbox_id, cmd="open about:blank",
            timeout=TIMEOUT,
        )  # fmt: skip
        batch = await call(
            server, "execute_browser_batch", sandbox_id=live.sandbox_id,
            commands=["get url", "snapshot"], timeout=TIMEOUT,
        )  # fmt: skip

    assert {"execute_browser", "execute_browser_batch", "create_skill_candidate"} <= tools
    assert one.startswith("Browser command succeeded, exit code 0"), one
    assert "about:blank" in batch, batch
