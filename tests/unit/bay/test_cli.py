"""The server-side `bay` command, run as a real process on a temp data dir."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from bay.config import Settings


def bay(data_dir: Path, *args: str) -> Any:
    env = {**os.environ, "BAY_DATA_DIR": str(data_dir)}
    done = subprocess.run(
        [sys.executable, "-m", "bay", *args], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    created = bay(tmp_path, "keys", "create", "--owner", "alice")
    assert created["owner"] == "alice"
    assert created["api_key"].startswith("sk-bay-")
    listed = bay(tmp_path, "keys", "list")["items"]
    assert [(k["id"], k["is_active"]) for k in listed] == [(created["id"], True)]
    assert created["api_key"] not in json.dumps(listed)
    bay(tmp_path, "keys", "revoke", created["id"])
    assert bay(tmp_path, "keys", "list")["items"][0]["is_active"] is False


def test_env_beats_yaml_beats_defaults(tmp_path: Path, monkeypatch: Any) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"server": {"port": 9000, "host": "127.0.0.2"}}))
    monkeypatch.setenv("BAY_CONFIG_FILE", str(config))
    monkeypatch.setenv("BAY_SERVER__PORT", "9100")
    settings = Settings()
    assert (settings.server.port, settings.server.host) == (9100, "127.0.0.2")
    assert settings.gc.interval_seconds == 300


def test_bay_api_key_and_data_dir_come_from_env(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("BAY_API_KEY", "sk-from-env")
    monkeypatch.setenv("BAY_DATA_DIR", str(tmp_path))
    settings = Settings()
    assert (settings.admin_key, settings.data_dir) == ("sk-from-env", tmp_path)


def gc_run(data_dir: Path, tasks: str) -> "subprocess.CompletedProcess[str]":
    """`bay gc run --tasks TASKS` on a fake-driver Bay over `data_dir`."""
    config = data_dir / "config.yaml"
    config.write_text(yaml.safe_dump({"driver": {"type": "fake"}}))
    env = {**os.environ, "BAY_DATA_DIR": str(data_dir), "BAY_CONFIG_FILE": str(config)}
    argv = [sys.executable, "-m", "bay", "gc", "run", "--tasks", tasks]
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=False)


def test_gc_run_prints_the_named_tasks(tmp_path: Path) -> None:
    done = gc_run(tmp_path, "idle_session,orphan_cargo")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout[done.stdout.index("{") :])
    assert [r["task_name"] for r in result["results"]] == ["idle_session", "orphan_cargo"]
    assert result["total_errors"] == 0


def test_gc_run_refuses_an_unknown_task(tmp_path: Path) -> None:
    done = gc_run(tmp_path, "idle_session,bogus")
    assert done.returncode == 1
    assert "bay gc run: no task bogus; the tasks: idle_session" in done.stderr
