"""End to end: a real Bay process -> the local driver (bubblewrap) -> the real Ship."""

import hashlib
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.bay_process import BayProcess, local_driver_missing, traversable_tmp

pytestmark = [pytest.mark.local]

SKIP_REASON = local_driver_missing()
if SKIP_REASON:
    pytestmark.append(pytest.mark.skip(reason=SKIP_REASON))

PROFILES = {
    "profiles": [
        {"id": "python-default", "env": {"GREETING": "ahoy"}},
        {"id": "small", "resources": {"cpus": 0.5, "memory": "256m", "pids": 96}},
    ]
}


@pytest.fixture(scope="module")
def bay() -> Iterator[BayProcess]:
    with traversable_tmp() as base:
        server = BayProcess(base / "data", PROFILES)
        server.start()
        yield server
        with server.client() as client:
            for item in client.get("/v1/sandboxes", params={"limit": 200}).json()["items"]:
                client.delete(f"/v1/sandboxes/{item['id']}")
        server.stop()


@pytest.fixture(scope="module")
def client(bay: BayProcess) -> Iterator[httpx.Client]:
    with bay.client() as http:
        yield http


@pytest.fixture(scope="module")
def sandbox(client: httpx.Client) -> str:
    """One sandbox shared by the read-mostly checks of this module."""
    response = client.post("/v1/sandboxes", json={})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def new_sandbox(client: httpx.Client, **body: Any) -> str:
    response = client.post("/v1/sandboxes", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def python(client: httpx.Client, sandbox_id: str, code: str, timeout: int = 60) -> dict[str, Any]:
    response = client.post(
        f"/v1/sandboxes/{sandbox_id}/python/exec", json={"code": code, "timeout": timeout}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def shell(client: httpx.Client, sandbox_id: str, command: str, timeout: int = 60) -> dict[str, Any]:
    response = client.post(
        f"/v1/sandboxes/{sandbox_id}/shell/exec", json={"command": command, "timeout": timeout}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


class TestExecution:
    def test_python_keeps_state(self, client: httpx.Client, sandbox: str) -> None:
        python(client, sandbox, "x = 41")
        result = python(client, sandbox, "x + 1")
        assert (result["success"], result["output"]) == (True, "42")

    def test_print_answers_stripped_text(self, client: httpx.Client, sandbox: str) -> None:
        assert python(client, sandbox, "print(1+1)")["output"] == "2"

    def test_shell_runs_in_workspace_with_profile_env(
        self, client: httpx.Client, sandbox: str
    ) -> None:
        result = shell(client, sandbox, 'pwd; echo "$GREETING $HOME"')
        assert result["output"].splitlines() == ["/workspace", "ahoy /workspace"]

    def test_python_sees_profile_env(self, client: httpx.Client, sandbox: str) -> None:
        assert python(client, sandbox, "import os; os.environ['GREETING']")["output"] == "'ahoy'"

    def test_timed_out_loop_leaves_a_working_kernel(
        self, client: httpx.Client, sandbox: str
    ) -> None:
        python(client, sandbox, "y = 7")
        timed_out = python(client, sandbox, "while True: pass", timeout=2)
        assert timed_out["success"] is False
        assert "timed out" in timed_out["error"]
        assert python(client, sandbox, "y * 6")["output"] == "42"

    def test_shell_timeout_kills_background_children(
        self, client: httpx.Client, sandbox: str
    ) -> None:
        result = shell(client, sandbox, "sleep 1000 & echo $! > /tmp/bg.pid; wait", timeout=2)
        assert result["exit_code"] == -1
        alive = shell(client, sandbox, 'kill -0 "$(cat /tmp/bg.pid)" && echo alive || echo gone')
        assert alive["output"] == "gone"


class TestFiles:
    def test_write_read_list_delete(self, client: httpx.Client, sandbox: str) -> None:
        base = f"/v1/sandboxes/{sandbox}/filesystem"
        client.put(f"{base}/files", json={"path": "notes/a.txt", "content": "hello"})
        assert client.get(f"{base}/files", params={"path": "notes/a.txt"}).json() == {
            "content": "hello"
        }
        entries = client.get(f"{base}/directories", params={"path": "notes"}).json()["entries"]
        assert [(e["name"], e["path"]) for e in entries] == [("a.txt", "/workspace/notes/a.txt")]
        assert client.delete(f"{base}/files", params={"path": "notes"}).status_code == 200
        missing = client.get(f"{base}/files", params={"path": "notes/a.txt"})
        assert missing.status_code == 404

    def test_paths_the_api_answers_are_taken_back(self, client: httpx.Client, sandbox: str) -> None:
        base = f"/v1/sandboxes/{sandbox}/filesystem"
        client.put(f"{base}/files", json={"path": "back/b.txt", "content": "again"})
        [entry] = client.get(f"{base}/directories", params={"path": "back"}).json()["entries"]
        read = client.get(f"{base}/files", params={"path": entry["path"]})
        assert read.json() == {"content": "again"}, read.text
        body = {"command": "cat b.txt", "cwd": "/workspace/back"}
        assert client.post(f"/v1/sandboxes/{sandbox}/shell/exec", json=body).json()["output"] == (
            "again"
        )

    def test_50_mb_upload_and_download(self, client: httpx.Client, sandbox: str) -> None:
        base = f"/v1/sandboxes/{sandbox}/filesystem"
        payload = os.urandom(1024 * 1024) * 50
        uploaded = client.post(
            f"{base}/upload", files={"file": ("upload", payload)}, data={"path": "big.bin"}
        )
        assert uploaded.json() == {"status": "ok", "path": "big.bin", "size": len(payload)}
        digest = hashlib.sha256()
        with client.stream("GET", f"{base}/download", params={"path": "big.bin"}) as response:
            assert response.status_code == 200
            for chunk in response.iter_bytes():
                digest.update(chunk)
        assert digest.hexdigest() == hashlib.sha256(payload).hexdigest()
        inside = shell(client, sandbox, "sha256sum big.bin | cut -d' ' -f1")["output"]
        assert inside == digest.hexdigest()

    def test_symlink_out_of_workspace_is_refused(self, client: httpx.Client, sandbox: str) -> None:
        shell(client, sandbox, "ln -sf /etc escape")
        response = client.get(
            f"/v1/sandboxes/{sandbox}/filesystem/files", params={"path": "escape/passwd"}
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_path"


class TestLifecycle:
    def test_stop_ends_variables_and_keeps_files(self, client: httpx.Client) -> None:
        sandbox_id = new_sandbox(client)
        python(client, sandbox_id, "z = 1; open('kept.txt', 'w').write('kept')")
        assert client.post(f"/v1/sandboxes/{sandbox_id}/stop").json() == {"status": "stopped"}
        assert client.get(f"/v1/sandboxes/{sandbox_id}").json()["status"] == "idle"
        assert "NameError" in python(client, sandbox_id, "z")["error"]
        assert python(client, sandbox_id, "open('kept.txt').read()")["output"] == "'kept'"

    def test_delete_removes_sandbox_and_processes(self, client: httpx.Client) -> None:
        sandbox_id = new_sandbox(client)
        shell(client, sandbox_id, "true")
        assert client.delete(f"/v1/sandboxes/{sandbox_id}").status_code == 204
        assert client.get(f"/v1/sandboxes/{sandbox_id}").status_code == 404

    def test_restarted_bay_reattaches_to_live_sessions(self, bay: BayProcess) -> None:
        with bay.client() as client:
            sandbox_id = new_sandbox(client)
            python(client, sandbox_id, "survivor = 'still here'")
        bay.restart()
        with bay.client() as client:
            assert python(client, sandbox_id, "survivor")["output"] == "'still here'"


class TestIsolation:
    def test_runs_as_unprivileged_shipyard(self, client: httpx.Client, sandbox: str) -> None:
        assert shell(client, sandbox, "id -u; whoami")["output"].split() == ["1000", "shipyard"]

    def test_no_capabilities(self, client: httpx.Client, sandbox: str) -> None:
        caps = shell(client, sandbox, "grep ^CapEff /proc/self/status")["output"]
        assert caps.split()[1] == "0000000000000000"

    def test_host_processes_are_invisible(self, client: httpx.Client, sandbox: str) -> None:
        pids = shell(client, sandbox, "ls /proc | grep -E '^[0-9]+$'")["output"].split()
        assert len(pids) < 15
        assert str(os.getpid()) not in pids or len(pids) < 15

    def test_cannot_write_outside_workspace(self, client: httpx.Client, sandbox: str) -> None:
        result = python(client, sandbox, "open('/etc/passwd', 'a')")
        assert result["success"] is False
        assert "Error" in result["error"]
        assert shell(client, sandbox, "touch /usr/x")["exit_code"] != 0

    def test_bay_data_and_home_dirs_are_not_visible(
        self, bay: BayProcess, client: httpx.Client, sandbox: str
    ) -> None:
        # The host's home, by a file only it has (the sandbox environment has a /root of its own).
        home = Path.home() / f".shipyard-test-{uuid.uuid4().hex[:8]}"
        home.write_text("host only")
        paths = [str(bay.data_dir), str(bay.data_dir / "bay.db"), str(home)]
        script = "; ".join(f"test -e {p} && echo visible:{p}" for p in paths)
        try:
            assert "visible" not in shell(client, sandbox, script + "; true")["output"]
        finally:
            home.unlink()

    def test_other_cargos_are_not_visible(
        self, bay: BayProcess, client: httpx.Client, sandbox: str
    ) -> None:
        other = new_sandbox(client)
        shell(client, other, "echo secret > mine.txt")
        found = shell(client, sandbox, "find / -name mine.txt 2>/dev/null; true")["output"]
        assert found == ""

    def test_host_loopback_is_unreachable(
        self, bay: BayProcess, client: httpx.Client, sandbox: str
    ) -> None:
        with socket.create_server(("127.0.0.1", 0)) as listener:
            listener.setblocking(False)
            port = listener.getsockname()[1]
            code = (
                "import socket\n"
                f"for port in ({port}, {bay.port}):\n"
                "    s = socket.socket(); s.settimeout(2)\n"
                "    print(s.connect_ex(('127.0.0.1', port)) != 0)\n"
            )
            assert python(client, sandbox, code)["output"].split() == ["True", "True"]
            with pytest.raises(BlockingIOError):
                listener.accept()  # nothing reached the host's listener


class TestLimits:
    def test_memory_hog_is_killed_with_a_clear_error(self, client: httpx.Client) -> None:
        sandbox_id = new_sandbox(client, profile="small")
        result = python(client, sandbox_id, "hog = bytearray(1024 * 1024 * 1024)")
        assert result["success"] is False
        assert "memory" in result["error"].lower()
        assert python(client, sandbox_id, "1 + 1")["output"] == "2"

    def test_fork_bomb_is_contained(self, client: httpx.Client) -> None:
        sandbox_id = new_sandbox(client, profile="small")
        result = shell(client, sandbox_id, "bomb() { bomb | bomb; }; bomb", timeout=5)
        assert (result["success"], result["exit_code"]) == (False, -1)
        assert shell(client, sandbox_id, "echo alive")["output"] == "alive"
        left = shell(client, sandbox_id, "ls /proc | grep -cE '^[0-9]+$'")["output"]
        assert int(left) < 15


class TestCargoQuota:
    @pytest.fixture(autouse=True)
    def _needs_quota(self) -> None:
        if os.geteuid() != 0:
            pytest.skip("cargo quotas need root (loop-mounted images); cargos are plain dirs")

    def test_write_past_the_limit_fails_inside_the_sandbox(self, client: httpx.Client) -> None:
        cargo = client.post("/v1/cargos", json={"size_limit_mb": 5}).json()["id"]
        sandbox_id = new_sandbox(client, cargo_id=cargo)
        result = shell(client, sandbox_id, "dd if=/dev/zero of=big bs=1M count=10")
        assert result["success"] is False
        assert "No space left" in result["error"]

    def test_file_api_answers_quota_exceeded(self, client: httpx.Client) -> None:
        cargo = client.post("/v1/cargos", json={"size_limit_mb": 5}).json()["id"]
        sandbox_id = new_sandbox(client, cargo_id=cargo)
        response = client.post(
            f"/v1/sandboxes/{sandbox_id}/filesystem/upload",
            files={"file": ("upload", b"x" * (10 * 1024 * 1024))},
            data={"path": "big.bin"},
        )
        assert response.status_code == 429
        assert response.json()["error"]["code"] == "quota_exceeded"
        other = new_sandbox(client)
        assert shell(client, other, "dd if=/dev/zero of=big bs=1M count=10")["success"] is True
