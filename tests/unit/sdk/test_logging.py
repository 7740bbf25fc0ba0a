"""Calls that wait say in the debug log (logger "shipyard") what they wait for."""

import logging

import httpx
import pytest

from shipyard import Client, Retries
from tests.unit.sdk.test_retries import BUSY, SANDBOX, Recorder


def debug_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "shipyard"]


@pytest.fixture(autouse=True)
def _debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="shipyard")


def test_an_exec_says_what_it_waits_for_and_how_long_it_took(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox = client.sandboxes.create()
    sandbox.python.run("1", timeout=20)
    sent, answered = debug_lines(caplog)[-2:]
    assert sent == (
        f"POST /v1/sandboxes/{sandbox.id}/python/exec: waiting for the Python code to finish "
        "(up to 20 s; a sandbox's compute starts first when it is not running)"
    )
    assert answered.startswith(f"POST /v1/sandboxes/{sandbox.id}/python/exec: answered 200 after")
    sandbox.delete()


def test_a_stream_waits_for_its_first_event(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with client.sandboxes.create() as sandbox:
        list(sandbox.shell.stream("echo hi"))
    assert any("shell/exec: waiting for the run's first event" in m for m in debug_lines(caplog))


def test_a_process_wait_names_the_process(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    with client.sandboxes.create() as sandbox:
        started = sandbox.processes.start("true")
        sandbox.processes.wait(started.process_id, timeout=5)
    wanted = f"waiting for process {started.process_id} to exit (up to 5 s)"
    assert any(m.endswith(wanted) for m in debug_lines(caplog))


def test_a_retry_says_why_and_when(caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder(httpx.Response(503, json=BUSY), httpx.Response(200, json=SANDBOX))
    transport = httpx.MockTransport(recorder)
    retries = Retries(attempts=3, backoff=0.0)
    with Client("http://bay", "k", retries=retries, transport=transport) as client:
        client.sandboxes.get("sandbox-1")
    assert "GET /v1/sandboxes/sandbox-1: 503; retry 1 of 3 in 0.00 s" in debug_lines(caplog)


def test_nothing_is_logged_above_debug(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    client.profiles.list()
    assert {r.levelno for r in caplog.records if r.name == "shipyard"} == {logging.DEBUG}
