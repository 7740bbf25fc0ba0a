"""The server-side `bay` command, run as a real process on a temp data dir."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from bay import __version__
from tests.bay_process import free_port


def bay(data_dir: Path, *args: str) -> Any:
    env = {**os.environ, "BAY_DATA_DIR": str(data_dir)}
    done = subprocess.run(
        [sys.executable, "-m", "bay", *args], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    created = bay(tmp_path, "keys", "create", "--owner", "alice", "--create")
    assert created["owner"] == "alice"
    assert created["api_key"].startswith("sk-bay-")
    listed = bay(tmp_path, "keys", "list")["items"]
    assert [(k["id"], k["is_active"]) for k in listed] == [(created["id"], True)]
    assert created["api_key"] not in json.dumps(listed)
    bay(tmp_path, "keys", "revoke", created["id"])
    assert bay(tmp_path, "keys", "list")["items"][0]["is_active"] is False


def gc_run(data_dir: Path, tasks: str) -> "subprocess.CompletedProcess[str]":
    """`bay gc run --tasks TASKS` on a fake-driver Bay over `data_dir`."""
    config = data_dir / "config.yaml"
    config.write_text(yaml.safe_dump({"driver": {"type": "fake"}}))
    env = {**os.environ, "BAY_DATA_DIR": str(data_dir), "BAY_CONFIG_FILE": str(config)}
    argv = [sys.executable, "-m", "bay", "gc", "run", "--create", "--tasks", tasks]
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


def run_bay(cwd: Path, *args: str) -> "subprocess.CompletedProcess[str]":
    """`bay ARGS` in `cwd` with no BAY_ setting in the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BAY_")}
    argv = [sys.executable, "-m", "bay", *args]
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)


class TestDataDir:
    def test_keys_list_refuses_a_missing_database_and_names_it(self, tmp_path: Path) -> None:
        done = run_bay(tmp_path, "keys", "list")
        database = tmp_path / ".bay" / "bay.db"
        assert done.returncode == 1
        assert f"bay: data dir {tmp_path / '.bay'}; database " in done.stderr
        assert f"no database at {database}" in done.stderr
        assert "--create" in done.stderr
        assert done.stdout == ""
        assert not database.exists()

    def test_create_makes_the_database_it_names(self, tmp_path: Path) -> None:
        done = run_bay(tmp_path, "keys", "list", "--create")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {"items": []}
        assert f"database sqlite+aiosqlite:///{tmp_path / '.bay' / 'bay.db'}" in done.stderr
        assert (tmp_path / ".bay" / "bay.db").exists()

    def test_data_dir_option_points_at_an_existing_database(self, tmp_path: Path) -> None:
        run_bay(tmp_path, "migrate", "--data-dir", "data")
        created = run_bay(tmp_path, "keys", "create", "--owner", "bob", "--data-dir", "data")
        listed = run_bay(tmp_path, "keys", "list", "--data-dir", str(tmp_path / "data"))
        assert created.returncode == 0, created.stderr
        assert [k["owner"] for k in json.loads(listed.stdout)["items"]] == ["bob"]
        assert not (tmp_path / ".bay").exists()

    def test_no_alembic_chatter(self, tmp_path: Path) -> None:
        done = run_bay(tmp_path, "migrate")
        assert done.returncode == 0, done.stderr
        assert "alembic.runtime" not in done.stderr
        assert " INFO " not in done.stderr


class TestOptions:
    def test_version(self, tmp_path: Path) -> None:
        done = run_bay(tmp_path, "--version")
        assert (done.returncode, done.stdout.strip()) == (0, f"bay {__version__}")

    def test_serve_help_lists_its_options(self, tmp_path: Path) -> None:
        done = run_bay(tmp_path, "serve", "--help")
        for option in ("--host", "--port", "--config", "--data-dir"):
            assert option in done.stdout

    def test_serve_listens_where_the_options_say(self, tmp_path: Path) -> None:
        config = tmp_path / "bay.yaml"
        config.write_text(yaml.safe_dump({"driver": {"type": "fake"}}))
        port = free_port()
        argv = ["serve", "--host", "127.0.0.1", "--port", str(port)]
        argv += ["--config", str(config), "--data-dir", str(tmp_path / "data")]
        env = {k: v for k, v in os.environ.items() if not k.startswith("BAY_")}
        server = subprocess.Popen(
            [sys.executable, "-m", "bay", *argv],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            health = wait_for_health(f"http://127.0.0.1:{port}/health")
        finally:
            server.terminate()
            server.wait(timeout=30)
        assert health["status"] == "ok"
        assert (tmp_path / "data" / "bay.db").exists()
        assert not (tmp_path / ".bay").exists()

    def test_serve_refuses_a_missing_config_file(self, tmp_path: Path) -> None:
        done = run_bay(tmp_path, "serve", "--config", "nope.yaml")
        assert done.returncode == 1
        assert "--config nope.yaml: no such file" in done.stderr


def wait_for_health(url: str) -> Any:
    deadline = time.monotonic() + 30
    while True:
        try:
            return httpx.get(url, timeout=1).json()
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
