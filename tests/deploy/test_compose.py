"""deploy/compose.yaml comes up with Debian's docker-compose on this machine's dockerd: the
README's first curl answers through the proxy, and both replicas serve one sandbox.

The images are built by `scripts/deploy_images.py` (instant when current); the stack runs as a
project of its own name, with its own data and run dirs, instance ids and an ephemeral port, so
it shares this dockerd with other runs; everything it made goes, even when a test fails.
"""

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.bay_process import REPO

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]

COMPOSE_FILE = REPO / "deploy" / "compose.yaml"
REPLICAS = ("bay-1", "bay-2")


@dataclass(frozen=True)
class Stack:
    project: str
    env: dict[str, str]
    url: str
    api_key: str

    def compose(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        argv = ["docker-compose", "-p", self.project, "-f", str(COMPOSE_FILE), *args]
        return subprocess.run(
            argv, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def client(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120)


def missing() -> str | None:
    if os.geteuid() != 0:
        return "building the images needs root (scripts/sandbox_env.py: debootstrap)"
    if shutil.which("docker-compose") is None:
        return "docker-compose is not installed (apt-get install docker-compose)"
    done = subprocess.run(["docker", "info"], capture_output=True, check=False)
    if done.returncode != 0:
        return "no dockerd answers here"
    return None


def host_env() -> dict[str, str]:
    """The environment without the workspace's venv: the build scripts fetch wheels with the
    host's pip (and its configuration), which the venv lacks."""
    env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    venv = str(Path(sys.prefix) / "bin")
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", os.defpath).split(os.pathsep) if p != venv
    )
    return env


def host_python() -> str:
    found = shutil.which("python3", path=host_env()["PATH"])
    assert found is not None, "no python3 on PATH outside the venv"
    return found


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if (reason := missing()) is not None:
        pytest.skip(reason)
    build = subprocess.run(
        [host_python(), str(REPO / "scripts" / "deploy_images.py")],
        env=host_env(),
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    name = f"shipyard-test-{uuid.uuid4().hex[:8]}"
    data_dir = tmp_path_factory.mktemp("compose") / "data"
    run_dir = Path("/run/shipyard") / name
    env = {
        **os.environ,
        "SHIPYARD_API_KEY": f"sk-{secrets.token_hex(16)}",
        "SHIPYARD_DB_PASSWORD": secrets.token_hex(16),
        "SHIPYARD_DATA_DIR": str(data_dir),
        "SHIPYARD_RUN_DIR": str(run_dir),
        "SHIPYARD_INSTANCE_PREFIX": name,
        "SHIPYARD_PORT": "0",  # dockerd picks a free one
    }
    stack = Stack(name, env, "", env["SHIPYARD_API_KEY"])
    try:
        up = stack.compose("up", "-d")
        assert up.returncode == 0, (
            up.stderr + stack.compose("logs", "--no-color", "--tail=40").stdout
        )
        port = stack.compose("port", "proxy", "8114").stdout.strip().rpartition(":")[2]
        yield Stack(name, env, f"http://127.0.0.1:{port}", stack.api_key)
    finally:
        tear_down(stack, data_dir, run_dir)


def tear_down(stack: Stack, data_dir: Path, run_dir: Path) -> None:
    """Sandboxes outlive Bay by design, so their containers go by label; then the project's
    containers, volumes and network, then the host dirs."""
    stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "10")
    for replica in REPLICAS:
        label = f"label=bay.instance_id={stack.project}-{replica}"
        listed = subprocess.run(
            ["docker", "ps", "-aq", "--filter", label], capture_output=True, text=True, check=False
        )
        if ids := listed.stdout.split():
            subprocess.run(["docker", "rm", "-f", "-v", *ids], capture_output=True, check=False)
    shutil.rmtree(data_dir, ignore_errors=True)
    shutil.rmtree(run_dir, ignore_errors=True)


def readme_first_block() -> str:
    """The README's first ```sh block that calls Bay: the key, a create, `print(1+1)`."""
    text = (REPO / "README.md").read_text()
    blocks: list[str] = re.findall(r"^```sh\n(.*?)^```", text, re.M | re.S)
    return next(block for block in blocks if "localhost:8114/v1/sandboxes" in block)


def test_the_readme_first_curl_answers_through_the_proxy(stack: Stack, tmp_path: Path) -> None:
    (tmp_path / ".bay").mkdir()
    (tmp_path / ".bay" / "credentials.json").write_text(json.dumps({"api_key": stack.api_key}))
    script = readme_first_block().replace("http://localhost:8114", stack.url)
    script = "set -euo pipefail\n" + script.replace("localhost:8114", stack.url[7:])
    done = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    assert '{"success":true,"output":"2"' in done.stdout


def test_both_replicas_serve_one_sandbox(stack: Stack) -> None:
    with stack.client() as client:
        created = client.post("/v1/sandboxes", json={})
        assert created.status_code == 201, created.text
        sandbox = created.json()["id"]
        served: dict[str, list[int]] = {}
        for n in range(4):
            answer = client.post(
                f"/v1/sandboxes/{sandbox}/python/exec", json={"code": f"x = {n}\nprint(x)"}
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["output"] == str(n)
            count = answer.json()["data"]["execution_count"]
            served.setdefault(answer.headers["x-bay-replica"], []).append(count)
        written = client.post(
            f"/v1/sandboxes/{sandbox}/shell/exec", json={"command": "echo hi > f.txt"}
        )
        read = client.get(f"/v1/sandboxes/{sandbox}/filesystem/files", params={"path": "f.txt"})
        deleted = client.delete(f"/v1/sandboxes/{sandbox}")
    assert sorted(served) == list(REPLICAS), served
    # One kernel for both: its execution count went on from one replica's call to the other's.
    assert sorted(c for counts in served.values() for c in counts) == [1, 2, 3, 4], served
    assert written.headers["x-bay-replica"] != read.headers["x-bay-replica"]
    assert read.json()["content"] == "hi\n", read.text
    assert deleted.status_code == 204, deleted.text


def test_a_stopped_replica_loses_no_request(stack: Stack) -> None:
    """Last in this module: it leaves bay-1 stopped. The proxy sends what cannot reach bay-1
    to bay-2, and bay-2 serves the sandbox bay-1 started."""
    with stack.client() as client:
        sandbox = client.post("/v1/sandboxes", json={}).json()["id"]
        first = client.post(f"/v1/sandboxes/{sandbox}/shell/exec", json={"command": "echo 1"})
        assert first.status_code == 200, first.text
        stopped = stack.compose("stop", "--timeout", "10", "bay-1")
        assert stopped.returncode == 0, stopped.stderr
        answers = [
            client.post(f"/v1/sandboxes/{sandbox}/shell/exec", json={"command": "echo 2"})
            for _ in range(6)
        ]
    assert [(a.status_code, a.headers.get("x-bay-replica")) for a in answers] == [
        (200, "bay-2")
    ] * 6
    assert all(a.json()["output"] == "2" for a in answers), answers[0].text
