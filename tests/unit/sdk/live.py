"""Bay served by uvicorn on a free local port in a thread (httpx's `serve_in_thread`)."""

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from bay.app import create_app
from bay.config import ProfileSettings, Settings
from bay.drivers.fake import FakeDriver
from shipyard import Client
from tests.unit.bay.conftest import make_settings, seed_database


def _fake_driver(settings: Settings) -> FakeDriver:
    return FakeDriver(settings.data_dir)


def refuse_every_ship(data_dir: Path) -> None:
    """Every session's Ship of the Bay on `data_dir` becomes unreachable, as when its
    instance died: its socket is gone (the fake driver's server runs in Bay's thread)."""
    for path in FakeDriver.sockets(data_dir).glob("*.sock"):
        path.unlink()


@contextmanager
def serve_bay(data_dir: Path, **overrides: Any) -> Iterator[str]:
    """Run Bay (fake driver, real Ship in-process) until the block ends; yields its URL.
    `overrides` replace settings of `make_settings`."""
    settings = make_settings(data_dir, **overrides)
    seed_database(settings)
    app = create_app(settings, driver_factory=_fake_driver)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive(), "Bay did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


# The browser the clients' tests drive: Ship is the real one, agent-browser a stand-in that
# prints the command it was given (after Ship's --session NAME --profile DIR), fails on `fail`
# and prints 5000 characters on `spam`; `chromium` only has to be there.
FAKE_BROWSER = """#!/bin/sh
shift 4
case "$1" in
  fail) echo "no element matches" >&2; exit 1 ;;
  spam) head -c 5000 /dev/zero | tr '\\0' x; exit 0 ;;
esac
echo "$*"
"""
BROWSER_PROFILE = "browser-python"


def browser_profiles() -> list[ProfileSettings]:
    """python-default, and the default browser-python (a Ship and a browser runtime)."""
    [browser] = [p for p in Settings().profiles if p.id == BROWSER_PROFILE]
    return [ProfileSettings(id="python-default"), browser]


@contextmanager
def fake_browser(tools: Path) -> Iterator[None]:
    """The stand-ins first on PATH until the block ends (Ship looks them up there)."""
    tools.mkdir(parents=True, exist_ok=True)
    for name, text in (("agent-browser", FAKE_BROWSER), ("chromium", "#!/bin/sh\n")):
        (tools / name).write_text(text)
        (tools / name).chmod(0o755)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
        yield


@contextmanager
def serve_browser_bay(data_dir: Path) -> Iterator[str]:
    """`serve_bay` with the browser profiles and the stand-in agent-browser."""
    with (
        fake_browser(data_dir / "bin"),
        serve_bay(data_dir / "bay", profiles=browser_profiles()) as url,
    ):
        yield url


# Fixtures a client suite's browser module takes in place of its own, by assignment
# (`live_url = live.browser_bay_url`): the suite's other fixtures then use this Bay.
@pytest.fixture(scope="module")
def browser_bay_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_browser_bay(tmp_path_factory.mktemp("browser")) as url:
        yield url


@pytest.fixture
def browser_sandbox_id(client: Client) -> Iterator[str]:
    with client.sandboxes.create(BROWSER_PROFILE) as sandbox:
        yield sandbox.id
