"""API abuse against a real Bay on the local driver: bad input is a 4xx, never a 500 or 502,
nothing grows without bound, and a Bay killed mid-exec loses nothing."""

import json
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.bay_process import API_KEY, BayProcess, local_driver_missing, serving

pytestmark = [pytest.mark.local]

SKIP_REASON = local_driver_missing()
if SKIP_REASON:
    pytestmark.append(pytest.mark.skip(reason=SKIP_REASON))

BODY_CAP = 4 * 1024 * 1024
CODE_CAP = 64 * 1024
FIELD_CAP = 4096
KEEP_ROWS = 3
CONFIG = {
    "profiles": [{"id": "python-default"}, {"id": "python-gvisor", "runtime": "runsc"}],
    "limits": {"max_body_bytes": BODY_CAP, "max_code_bytes": CODE_CAP},
    "history": {"max_field_bytes": FIELD_CAP, "max_rows_per_sandbox": KEEP_ROWS},
    "gc": {"enabled": False, "run_on_startup": False},
}
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def bay() -> Iterator[BayProcess]:
    with serving(CONFIG) as server:
        yield server


@pytest.fixture(scope="module")
def client(bay: BayProcess) -> Iterator[httpx.Client]:
    with bay.client() as http:
        yield http


def new_sandbox(client: httpx.Client, **body: Any) -> str:
    response = client.post("/v1/sandboxes", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture(scope="module")
def sandbox(client: httpx.Client) -> str:
    return new_sandbox(client)


def until(probe: Callable[[], Any], seconds: float = 60) -> Any:
    """Poll `probe` until it answers something truthy; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = probe()
        if answer:
            return answer
        time.sleep(0.05)
    pytest.fail(f"not within {seconds} s")


def assert_client_error(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    assert response.status_code in statuses, response.text
    body: dict[str, Any] = response.json()
    assert "error" in body or "detail" in body
    return body


class TestBadJson:
    @pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
    def test_non_finite_ttl_is_422(self, client: httpx.Client, literal: str) -> None:
        response = client.post("/v1/sandboxes", content=f'{{"ttl": {literal}}}', headers=JSON)
        assert_client_error(response, 422)

    @pytest.mark.parametrize(("kind", "field"), [("python", "code"), ("shell", "command")])
    def test_lone_surrogate_is_422(
        self, client: httpx.Client, sandbox: str, kind: str, field: str
    ) -> None:
        body = f'{{"{field}": "print(\\ud800)"}}'
        url = f"/v1/sandboxes/{sandbox}/{kind}/exec"
        response = client.post(url, content=body, headers=JSON)
        assert_client_error(response, 422)

    @pytest.mark.parametrize(
        "path", ["history?offset={n}", "executions/exec-x/events?after={n}", "history?limit={n}"]
    )
    def test_huge_integer_is_422(self, client: httpx.Client, sandbox: str, path: str) -> None:
        url = f"/v1/sandboxes/{sandbox}/" + path.format(n=10**30)
        assert_client_error(client.get(url), 422)


class TestBodyCap:
    def test_declared_length_past_the_cap_is_413_before_the_body(self, bay: BayProcess) -> None:
        head = (
            "POST /v1/sandboxes HTTP/1.1\r\nHost: bay\r\n"
            f"Authorization: Bearer {API_KEY}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {10**9}\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", bay.port), timeout=30) as conn:
            conn.sendall(head.encode())  # and not one byte of the body
            answer = ""
            while str(BODY_CAP) not in answer and (chunk := conn.recv(65536)):
                answer += chunk.decode(errors="replace")
        assert answer.startswith("HTTP/1.1 413"), answer[:200]
        assert str(BODY_CAP) in answer

    def test_chunked_body_is_cut_at_the_cap(self, client: httpx.Client) -> None:
        sent = 0

        def chunks() -> Iterator[bytes]:
            nonlocal sent
            yield b'{"profile": "'
            while sent < 4 * BODY_CAP:
                sent += 64 * 1024
                yield b"a" * 64 * 1024

        response = client.post("/v1/sandboxes", content=chunks(), headers=JSON)
        body = assert_client_error(response, 413)
        assert body["error"]["code"] == "validation_error"

    def test_upload_is_bounded_by_the_quota_not_the_cap(
        self, client: httpx.Client, sandbox: str
    ) -> None:
        data = os.urandom(BODY_CAP + 1024)
        url = f"/v1/sandboxes/{sandbox}/filesystem/upload"
        response = client.post(url, files={"file": ("big.bin", data)}, data={"path": "big.bin"})
        assert response.status_code == 200, response.text
        assert response.json()["size"] == len(data)


class TestOversizedInput:
    @pytest.mark.parametrize(("kind", "field"), [("python", "code"), ("shell", "command")])
    def test_code_past_the_limit_is_413_naming_it(
        self, client: httpx.Client, sandbox: str, kind: str, field: str
    ) -> None:
        url = f"/v1/sandboxes/{sandbox}/{kind}/exec"
        response = client.post(url, json={field: "#" * (CODE_CAP + 1)})
        body = assert_client_error(response, 413)
        assert body["error"]["details"] == {"field": field, "limit_bytes": CODE_CAP}

    def test_nul_in_a_shell_command_is_4xx(self, client: httpx.Client, sandbox: str) -> None:
        url = f"/v1/sandboxes/{sandbox}/shell/exec"
        assert_client_error(client.post(url, json={"command": "echo a\x00b"}), 400, 422)

    @pytest.mark.parametrize("path", ["a" * 5000, "a/" * 2100 + "b", "x" * 300])
    def test_overlong_path_is_400(self, client: httpx.Client, sandbox: str, path: str) -> None:
        base = f"/v1/sandboxes/{sandbox}/filesystem"
        for response in (
            client.get(f"{base}/files", params={"path": path}),
            client.put(f"{base}/files", json={"path": path, "content": "x"}),
            client.post(
                f"/v1/sandboxes/{sandbox}/shell/exec", json={"command": "pwd", "cwd": path}
            ),
        ):
            assert assert_client_error(response, 400)["error"]["code"] == "invalid_path"

    def test_twenty_mb_command_is_413(self, client: httpx.Client, sandbox: str) -> None:
        url = f"/v1/sandboxes/{sandbox}/shell/exec"
        assert_client_error(client.post(url, json={"command": "a" * 20_000_000}), 413)


class TestHistoryBounds:
    def test_long_code_and_output_keep_head_and_tail(self, client: httpx.Client) -> None:
        sandbox = new_sandbox(client)
        code = "x = 1  # " + "h" * 2 * FIELD_CAP + "\nprint('HEAD' + 'o' * 20000 + 'TAIL')"
        url = f"/v1/sandboxes/{sandbox}/python/exec"
        result = client.post(url, json={"code": code}).json()
        entry = client.get(f"/v1/sandboxes/{sandbox}/history/{result['execution_id']}").json()
        for field, head, tail in (("code", "x = 1", "'TAIL')"), ("output", "HEAD", "TAIL")):
            stored = entry[field]
            assert len(stored.encode()) <= FIELD_CAP, field
            assert stored.startswith(head), field
            assert stored.endswith(tail), field
            assert "characters cut" in stored

    def test_gc_keeps_the_newest_rows_of_each_sandbox(self, client: httpx.Client) -> None:
        sandbox = new_sandbox(client)
        for n in range(KEEP_ROWS + 2):
            client.post(f"/v1/sandboxes/{sandbox}/shell/exec", json={"command": f"echo {n}"})
        run = client.post("/v1/admin/gc/run", json={"tasks": ["history_retention"]})
        assert run.status_code == 200, run.text
        entries = client.get(f"/v1/sandboxes/{sandbox}/history").json()["entries"]
        assert [e["output"] for e in entries] == [str(n) for n in range(KEEP_ROWS + 1, 1, -1)]


class TestFileWrites:
    def test_put_past_the_quota_keeps_the_original(self, client: httpx.Client) -> None:
        cargo = client.post("/v1/cargos", json={"size_limit_mb": 1}).json()["id"]
        sandbox = new_sandbox(client, cargo_id=cargo)
        url = f"/v1/sandboxes/{sandbox}/filesystem/files"
        assert client.put(url, json={"path": "keep.txt", "content": "original"}).status_code == 200
        response = client.put(url, json={"path": "keep.txt", "content": "z" * 3 * 1024 * 1024})
        assert_client_error(response, 429)
        assert client.get(url, params={"path": "keep.txt"}).json() == {"content": "original"}


class TestTerminal:
    def test_bad_size_closes_with_a_code_and_reason(self, bay: BayProcess, sandbox: str) -> None:
        url = f"ws://127.0.0.1:{bay.port}/v1/sandboxes/{sandbox}/terminal?cols=100000&rows=-5"
        headers = {"Authorization": f"Bearer {API_KEY}"}
        with (
            connect(url, additional_headers=headers, open_timeout=30) as terminal,
            pytest.raises(ConnectionClosed) as closed,
        ):
            terminal.recv(timeout=30)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4400
        assert "cols" in closed.value.rcvd.reason


class TestCrashMidExec:
    def test_bay_killed_mid_exec_keeps_the_history_row(self, bay: BayProcess) -> None:
        with bay.client() as client:
            sandbox = new_sandbox(client)
            history = f"/v1/sandboxes/{sandbox}/history"
            marker = "go"  # the exec waits for this file, written after Bay came back
            command = f"until [ -e {marker} ]; do sleep 0.05; done; echo finished"
            body = {"command": command, "timeout": 120}
            exec_url = f"/v1/sandboxes/{sandbox}/shell/exec"
            threading.Thread(target=post_ignoring_errors, args=(bay, exec_url, body)).start()
            entries = until(lambda: client.get(history).json()["entries"])
            execution_id = entries[0]["id"]
            assert entries[0]["status"] == "running"
        os.kill(bay.pid or 0, signal.SIGKILL)
        bay.stop()
        bay.start()
        with bay.client() as client:
            release = client.put(
                f"/v1/sandboxes/{sandbox}/filesystem/files",
                json={"path": marker, "content": ""},
            )
            assert release.status_code == 200, release.text
            status_url = f"/v1/sandboxes/{sandbox}/executions/{execution_id}"
            until(lambda: client.get(status_url).json().get("status") == "finished")
            entry = client.get(f"{history}/{execution_id}")
            assert entry.status_code == 200, entry.text
            assert (entry.json()["status"], entry.json()["output"]) == ("finished", "finished")


def post_ignoring_errors(bay: BayProcess, url: str, body: dict[str, Any]) -> None:
    """The call whose Bay is killed under it: its answer never comes."""
    try:
        with bay.client() as client:
            client.post(url, json=body)
    except httpx.HTTPError:
        return


def test_fuzzed_json_is_never_a_server_error(client: httpx.Client, sandbox: str) -> None:
    for raw in ('{"code": NaN}', '{"code": 1e999}', '{"code": "\\udfff"}', "[]", "null", "{"):
        response = client.post(f"/v1/sandboxes/{sandbox}/python/exec", content=raw, headers=JSON)
        assert response.status_code < 500, (raw, response.text)
        json.loads(response.text)


def test_gvisor_profile_on_the_local_driver_is_refused_not_run_weaker(
    client: httpx.Client,
) -> None:
    answer = client.post("/v1/sandboxes", json={"profile": "python-gvisor"})
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert "runsc" in error["message"]
    assert error["details"] == {"profile": "python-gvisor", "runtime": "runsc"}
