"""The browser through a real Bay on each driver, with real Chromium: a page served inside the
sandbox is opened, read, filled and submitted; a screenshot lands in the cargo; batches stop
at the failing step and leave one history row and one trace."""

import struct
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.bay_process import BayProcess, clean_up, sandbox_rootfs, traversable_tmp
from tests.engines import require

pytestmark = pytest.mark.timeout(900)

VARIANTS = [
    pytest.param("local", marks=pytest.mark.local),
    pytest.param("docker", marks=pytest.mark.docker),
]
PORT = 8765
PROFILE = "browser-python"
FORM = """<!doctype html>
<html><head><title>Guest book</title></head><body>
<form action="/submitted" method="get">
  <label for="name">Name</label> <input id="name" name="name">
  <button id="go" type="submit">Sign</button>
</form>
</body></html>
"""
# Chromium's first start on a busy 2-core machine is slow; a command gets this long.
STEP_TIMEOUT = 120


@dataclass(frozen=True)
class Setup:
    variant: str
    client: httpx.Client
    sandbox_id: str

    def url(self, path: str) -> str:
        return f"/v1/sandboxes/{self.sandbox_id}/{path}"

    def browser(self, cmd: str, **extra: Any) -> dict[str, Any]:
        body = {"cmd": cmd, "timeout": STEP_TIMEOUT, **extra}
        response = self.client.post(self.url("browser/exec"), json=body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def batch(self, commands: list[str], **extra: Any) -> dict[str, Any]:
        body = {"commands": commands, "timeout": 600, **extra}
        response = self.client.post(self.url("browser/exec_batch"), json=body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def python(self, code: str) -> str:
        response = self.client.post(self.url("python/exec"), json={"code": code, "timeout": 60})
        assert response.status_code == 200, response.text
        assert response.json()["success"], response.json()
        return str(response.json()["output"])


@pytest.fixture(scope="module", params=VARIANTS)
def setup(request: pytest.FixtureRequest) -> Iterator[Setup]:
    with browser_sandbox(request.param) as made:
        yield made


@contextmanager
def browser_sandbox(variant: str, pool: bool = False) -> Iterator[Setup]:
    """A Bay of its own with a `browser-python` sandbox; with `pool`, one claimed from a warm
    pool of one (its profile spelled out, as a deployment would)."""
    variant = require(variant)
    if variant == "local" and sandbox_rootfs() is None:
        pytest.fail("no sandbox environment for the local driver: run `make rootfs`")
    settings: dict[str, Any] = {"gc": {"enabled": False}}
    if pool:
        runtimes = [
            {"name": "ship", "capabilities": ["filesystem", "shell", "python"]},
            {"name": "browser", "runtime_type": "browser", "capabilities": ["browser"]},
        ]
        settings["profiles"] = [{"id": PROFILE, "warm_pool_size": 1, "containers": runtimes}]
    with traversable_tmp() as base:
        bay = BayProcess(base / "data", settings, variant)
        bay.start()
        try:
            with bay.client(timeout=900) as client:
                if pool:
                    wait_for_pool(client, PROFILE)
                created = client.post("/v1/sandboxes", json={"profile": PROFILE})
                assert created.status_code == 201, created.text
                yield Setup(variant, client, created.json()["id"])
        finally:
            clean_up(bay)


@pytest.fixture(scope="module")
def site(setup: Setup) -> str:
    """The form, served by `python3 -m http.server` from inside the sandbox; its process id."""
    return serve(setup)


def serve(setup: Setup) -> str:
    written = setup.client.put(
        setup.url("filesystem/files"), json={"path": "site/index.html", "content": FORM}
    )
    assert written.status_code == 200, written.text
    command = f"python3 -m http.server {PORT} --bind 127.0.0.1 --directory /workspace/site"
    started = setup.client.post(setup.url("processes"), json={"command": command})
    assert started.status_code == 201, started.text
    setup.python(
        "import time, urllib.request\n"
        "for _ in range(600):\n"
        "    try:\n"
        f"        urllib.request.urlopen('http://127.0.0.1:{PORT}/', timeout=1); break\n"
        "    except OSError:\n"
        "        time.sleep(0.1)\n"
    )
    return str(started.json()["process_id"])


def server_log(setup: Setup, process_id: str, wanted: str) -> str:
    """The http.server's request log (stderr), once it shows `wanted` (or after a minute)."""
    deadline = time.monotonic() + 60
    while True:
        logs = setup.client.get(
            setup.url(f"processes/{process_id}/logs"), params={"stream": "stderr"}
        )
        assert logs.status_code == 200, logs.text
        text = str(logs.json()["data"])
        if wanted in text or time.monotonic() > deadline:
            return text
        time.sleep(0.2)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:16]
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def test_a_form_served_in_the_sandbox_is_filled_and_submitted(setup: Setup, site: str) -> None:
    opened = setup.browser(f"open http://127.0.0.1:{PORT}/index.html")
    assert opened["success"], opened
    snapshot = setup.browser("snapshot")
    assert snapshot["success"], snapshot
    assert "Sign" in snapshot["output"], snapshot["output"]

    submitted = setup.batch(["fill #name Ada", "click #go", "wait --url **/submitted**", "get url"])

    assert submitted["success"], submitted
    assert "/submitted?name=Ada" in submitted["results"][-1]["stdout"]
    assert "GET /submitted?name=Ada" in server_log(setup, site, "/submitted?name=Ada")


def test_a_screenshot_is_downloaded_and_read_by_python_in_the_sandbox(
    setup: Setup, site: str
) -> None:
    setup.browser(f"open http://127.0.0.1:{PORT}/index.html")
    shot = setup.browser("screenshot /workspace/shot.png")
    assert shot["success"], shot

    downloaded = setup.client.get(setup.url("filesystem/download"), params={"path": "shot.png"})
    assert downloaded.status_code == 200, downloaded.text
    seen_inside = setup.python(
        "import struct\n"
        "head = open('/workspace/shot.png', 'rb').read(24)\n"
        "print(*struct.unpack('>II', head[16:24]))"
    )

    width, height = png_size(downloaded.content)
    assert width > 100
    assert height > 100
    assert seen_inside == f"{width} {height}"


def test_a_batch_stops_at_the_failing_step_with_one_history_row(setup: Setup) -> None:
    result = setup.batch(
        ["open about:blank", "click #there-is-no-such-element", "snapshot"],
        include_trace=True,
    )
    history = setup.client.get(setup.url("history"), params={"exec_type": "browser_batch"})
    entries = [e for e in history.json()["entries"] if e["id"] == result["execution_id"]]
    trace = setup.client.get(setup.url(f"browser/traces/{result['trace_ref']}"))

    assert (result["total_steps"], result["completed_steps"]) == (3, 2)
    assert result["success"] is False
    assert result["results"][1]["exit_code"] != 0
    [entry] = entries
    assert entry["payload_ref"] == result["trace_ref"]
    assert trace.status_code == 200, trace.text
    summary = trace.json()["trace"]
    assert (summary["completed_steps"], summary["success"]) == (2, False)


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_warm_browser_sandbox_is_claimed_with_its_browser_running(variant: str) -> None:
    """The warm pool's members launch Chromium before they count as ready (on Docker in the
    sidecar, whose processes the session's container sees: they share a pid namespace)."""
    with browser_sandbox(variant, pool=True) as setup:
        count = "ps -eo comm | grep -c '^chromium' || true"
        shell = setup.client.post(setup.url("shell/exec"), json={"command": count})
        assert int(shell.json()["output"]) > 0, shell.text
        assert setup.browser("get url")["output"].strip() == "about:blank"


def wait_for_pool(client: httpx.Client, profile: str, timeout: float = 600) -> None:
    """Until the profile's pool has a ready member (its Ship and browser both started)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pool = client.get("/v1/admin/gc/status").json()["warm_pool"]["profiles"][profile]
        if pool["available"] >= 1:
            return
        time.sleep(0.2)
    pytest.fail(f"the warm pool of {profile} never had a ready member")


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_cookie_set_just_before_a_stop_is_there_after_it(variant: str) -> None:
    """Chromium keeps new cookies in memory for up to 30 s and the drivers end a session with
    SIGKILL: Bay closes the browser first, so the profile on the cargo has them."""
    with browser_sandbox(variant) as setup:
        serve(setup)
        page = f"open http://127.0.0.1:{PORT}/index.html"
        assert setup.browser(page)["success"]
        cookie = "document.cookie = 'kept=yes; max-age=86400; path=/'"
        assert setup.browser(f'eval "{cookie}"')["success"]

        stopped = setup.client.post(setup.url("stop"))
        assert stopped.status_code == 200, stopped.text

        serve(setup)  # a new session: its server too
        assert setup.browser(page)["success"]
        assert "kept=yes" in setup.browser('eval "document.cookie"')["output"]


@pytest.mark.docker
def test_a_browser_sidecar_that_died_is_replaced_on_the_next_call() -> None:
    """Its refusal makes Bay ask the driver, which sees the session's sidecar ended: the
    command runs in a new session instead of every call failing until idle GC."""
    with browser_sandbox("docker") as setup:
        assert setup.browser("open about:blank")["success"]
        (container,) = docker_ps(f"label=bay.sandbox_id={setup.sandbox_id}", "label=bay.runtime")
        subprocess.run(["docker", "kill", container], check=True, capture_output=True)

        again = setup.browser("get url")

        assert again["success"], again
        assert again["output"].strip() == "about:blank"


def docker_ps(*filters: str) -> list[str]:
    argv = ["docker", "ps", "-q", *(f"--filter={f}" for f in filters)]
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout.split()
