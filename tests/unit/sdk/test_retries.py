"""Retries: only safe calls, only on transport errors, 429 and 502-504, with capped backoff."""

import io
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from shipyard import Client, Retries, SessionNotReadyError

NO_WAIT = Retries(attempts=3, backoff=0.0)
SANDBOX: dict[str, Any] = {
    "id": "sandbox-1",
    "status": "idle",
    "profile": "p",
    "cargo_id": None,
    "capabilities": [],
    "created_at": "2025-01-01T00:00:00",
    "expires_at": None,
    "idle_expires_at": None,
}
BUSY = {"error": {"code": "session_not_ready", "message": "starting"}}


class Recorder:
    """A transport that answers from a script and keeps every request it saw."""

    def __init__(self, *answers: httpx.Response | type[httpx.TransportError]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, type):
            raise answer("down", request=request)
        return answer


def client_on(recorder: Callable[[httpx.Request], httpx.Response]) -> Client:
    return Client("http://bay", "k", retries=NO_WAIT, transport=httpx.MockTransport(recorder))


def test_get_is_retried_on_503_then_succeeds() -> None:
    recorder = Recorder(httpx.Response(503, json=BUSY), httpx.Response(200, json=SANDBOX))
    with client_on(recorder) as client:
        assert client.sandboxes.get("sandbox-1").id == "sandbox-1"
    assert len(recorder.requests) == 2


def test_get_gives_up_after_the_attempts() -> None:
    recorder = Recorder(*[httpx.Response(503, json=BUSY)] * 4)
    with client_on(recorder) as client, pytest.raises(SessionNotReadyError):
        client.sandboxes.get("sandbox-1")
    assert len(recorder.requests) == 4


def test_transport_error_is_retried() -> None:
    recorder = Recorder(httpx.ConnectError, httpx.Response(200, json={"items": []}))
    with client_on(recorder) as client:
        assert client.profiles.list().items == []


def test_plain_post_exec_is_never_retried() -> None:
    recorder = Recorder(httpx.Response(200, json=SANDBOX), httpx.Response(503, json=BUSY))
    with client_on(recorder) as client, pytest.raises(SessionNotReadyError):
        client.sandboxes.get("sandbox-1").python.run("1")
    assert [r.method for r in recorder.requests] == ["GET", "POST"]


def test_unsafe_transport_error_surfaces_at_once() -> None:
    recorder = Recorder(httpx.Response(200, json=SANDBOX), httpx.ReadError)
    with client_on(recorder) as client, pytest.raises(httpx.ReadError):
        client.sandboxes.get("sandbox-1").shell.run("true")
    assert len(recorder.requests) == 2


def test_create_is_retried_with_the_same_generated_key() -> None:
    recorder = Recorder(httpx.Response(502), httpx.Response(201, json=SANDBOX))
    with client_on(recorder) as client:
        client.sandboxes.create()
    keys = [r.headers["idempotency-key"] for r in recorder.requests]
    assert len(keys) == 2
    assert keys[0] == keys[1]


def test_cargo_create_sends_no_body_and_a_key() -> None:
    cargo = {
        "id": "ws-1",
        "managed": False,
        "managed_by_sandbox_id": None,
        "size_limit_mb": 1,
        "created_at": "2025-01-01T00:00:00",
        "last_accessed_at": "2025-01-01T00:00:00",
    }
    recorder = Recorder(httpx.Response(429), httpx.Response(201, json=cargo))
    with client_on(recorder) as client:
        client.cargos.create()
    assert [r.content for r in recorder.requests] == [b"", b""]
    assert "idempotency-key" in recorder.requests[1].headers


def test_seekable_upload_is_resent_whole() -> None:
    done = {"status": "ok", "path": "a.bin", "size": 5}
    recorder = Recorder(
        httpx.Response(200, json=SANDBOX), httpx.Response(504), httpx.Response(200, json=done)
    )
    with client_on(recorder) as client:
        client.sandboxes.get("sandbox-1").files.upload("a.bin", io.BytesIO(b"hello"))
    uploads = recorder.requests[1:]
    assert [b"hello" in r.content for r in uploads] == [True, True]


def test_backoff_doubles_up_to_the_cap() -> None:
    retries = Retries(backoff=0.2, cap=1.5)
    assert [retries.delay(n) for n in range(5)] == [0.2, 0.4, 0.8, 1.5, 1.5]


def test_a_long_exec_raises_only_the_read_timeout() -> None:
    ran = {"success": True, "output": "", "error": None, "exit_code": 0}
    recorder = Recorder(
        httpx.Response(200, json=SANDBOX),
        httpx.Response(200, json={**ran, "execution_id": "exec-1", "execution_time_ms": 1}),
    )
    transport = httpx.MockTransport(recorder)
    with Client("http://bay", "k", timeout=5, retries=NO_WAIT, transport=transport) as client:
        client.sandboxes.get("sandbox-1").shell.run("true", timeout=60)
    timeouts = recorder.requests[1].extensions["timeout"]
    assert (timeouts["read"], timeouts["connect"]) == (70.0, 5.0)


def test_a_browser_batch_waits_its_timeout_and_15_seconds() -> None:
    step = {"cmd": "snapshot", "stdout": "", "stderr": "", "exit_code": 0, "step_index": 0}
    batch = {
        "results": [{**step, "duration_ms": 1}],
        "total_steps": 1,
        "completed_steps": 1,
        "success": True,
        "duration_ms": 1,
        "execution_id": "exec-1",
        "execution_time_ms": 1,
    }
    recorder = Recorder(httpx.Response(200, json=SANDBOX), httpx.Response(200, json=batch))
    transport = httpx.MockTransport(recorder)
    with Client("http://bay", "k", timeout=5, retries=NO_WAIT, transport=transport) as client:
        client.sandboxes.get("sandbox-1").browser.exec_batch(["snapshot"], timeout=100)
    assert recorder.requests[1].extensions["timeout"]["read"] == 115.0
