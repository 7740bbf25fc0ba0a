"""The admin key at start: a generated one once, on a terminal only; a given one never.

Each test runs `bay serve` (fake driver) as a real process, its stdout a pseudo-terminal or a
file, and reads what reached the terminal and what reached the log.
"""

import contextlib
import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from tests.bay_process import free_port

GIVEN_KEY = "sk-given-by-the-operator"


def serve(data_dir: Path, tty: bool, **env: str) -> tuple[str, str]:
    """Start Bay, wait until it answers, stop it: (what its terminal showed, its log)."""
    config = data_dir.with_name("config.yaml")
    config.write_text(yaml.safe_dump({"driver": {"type": "fake"}}))
    port = free_port()
    environ = {
        **os.environ,
        "BAY_DATA_DIR": str(data_dir),
        "BAY_CONFIG_FILE": str(config),
        "BAY_SERVER__PORT": str(port),
        **env,
    }
    log = data_dir.with_name("bay.log")
    terminal, screen = pty.openpty() if tty else (-1, -1)
    with log.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "bay", "serve"],
            env=environ,
            stdout=screen if tty else err,
            stderr=err,
        )
    if tty:
        os.close(screen)
    try:
        _wait_healthy(port, process)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    shown = _read_all(terminal) if tty else ""
    return shown, log.read_text()


def _wait_healthy(port: int, process: "subprocess.Popen[bytes]") -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError("Bay did not come up")


def _read_all(fd: int) -> str:
    chunks = []
    with contextlib.suppress(OSError):  # EIO once the process closed its end
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode()


def saved_key(data_dir: Path) -> str:
    return str(json.loads((data_dir / "credentials.json").read_text())["api_key"])


def test_a_generated_key_is_shown_once_on_the_terminal_and_never_again(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    shown, log = serve(data_dir, tty=True)
    key = saved_key(data_dir)
    assert shown.count(key) == 1
    assert "curl" in shown
    assert key not in log
    shown_again, log_again = serve(data_dir, tty=True)
    assert key not in shown_again + log_again


def test_a_given_key_is_never_printed(tmp_path: Path) -> None:
    shown, log = serve(tmp_path / "data", tty=True, BAY_API_KEY=GIVEN_KEY)
    assert GIVEN_KEY not in shown + log
    assert not (tmp_path / "data" / "credentials.json").exists()


def test_without_a_terminal_only_the_credentials_file_holds_the_key(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _, log = serve(data_dir, tty=False)
    assert saved_key(data_dir) not in log
    assert str(data_dir / "credentials.json") in log
