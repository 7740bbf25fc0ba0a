"""The SDK as a user installs it: built wheels in a fresh venv, httpx and pydantic its only
dependencies, the CLI behind `shipyard-sdk[cli]`, and `uv tool install` from any directory."""

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.bay.conftest import ADMIN_KEY
from tests.unit.sdk.live import serve_bay

ROOT = Path(__file__).resolve().parents[2]
UV = os.environ.get("UV") or shutil.which("uv") or str(ROOT / ".tools/bin/uv")
OURS = {"shipyard-protocol", "shipyard-sdk"}


def run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        list(map(str, args)), cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    for package in ("shipyard-protocol", "shipyard-sdk"):
        run(UV, "build", "--package", package, "--wheel", "--out-dir", dist, cwd=ROOT)
    return dist


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, wheels: Path) -> Path:
    """A fresh venv: httpx and pydantic from the configured index, then the SDK from the wheels
    alone (`--no-index`), which fails if the SDK needs anything else."""
    root = tmp_path_factory.mktemp("venv")
    run(sys.executable, "-m", "venv", root)
    pip = (root / "bin/pip", "--disable-pip-version-check", "install", "--quiet")
    run(*pip, "httpx", "pydantic")
    (root / "before.json").write_text(json.dumps(sorted(installed(root))))
    run(*pip, "--no-index", "--find-links", wheels, "shipyard-sdk")
    return root


@pytest.fixture(scope="module")
def bay_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_bay(tmp_path_factory.mktemp("bay")) as url:
        yield url


def installed(venv: Path) -> set[str]:
    listing = run(venv / "bin/pip", "list", "--format", "json", "--disable-pip-version-check")
    return {item["name"].lower().replace("_", "-") for item in json.loads(listing)}


class TestLibrary:
    def test_adds_nothing_to_httpx_and_pydantic_but_itself(self, venv: Path) -> None:
        with_httpx_and_pydantic = set(json.loads((venv / "before.json").read_text()))
        assert installed(venv) - with_httpx_and_pydantic == OURS

    def test_imports_and_builds_a_client(self, venv: Path, tmp_path: Path) -> None:
        code = "import shipyard; shipyard.Client('http://127.0.0.1:9', 'k').close(); print('ok')"
        assert run(venv / "bin/python", "-c", code, cwd=tmp_path) == "ok\n"

    def test_the_terminal_names_its_extra(self, venv: Path, bay_url: str, tmp_path: Path) -> None:
        code = (
            "import shipyard\n"
            f"with shipyard.Client({bay_url!r}, {ADMIN_KEY!r}) as client:\n"
            "    with client.sandboxes.create() as sandbox:\n"
            "        try:\n            sandbox.terminal().open()\n"
            "        except ModuleNotFoundError as exc:\n            print(exc)\n"
        )
        answer = run(venv / "bin/python", "-c", code, cwd=tmp_path)
        assert answer == "the terminal needs websockets: pip install 'shipyard-sdk[terminal]'\n"

    def test_the_command_names_its_extra(self, venv: Path, tmp_path: Path) -> None:
        done = subprocess.run(
            [venv / "bin/shipyard", "--help"], cwd=tmp_path, capture_output=True, text=True
        )
        assert done.returncode == 1
        assert "pip install 'shipyard-sdk[cli]'" in done.stderr


@pytest.fixture(scope="module")
def tool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`uv tool install 'packages/sdk[cli]'` run from an unrelated directory."""
    home = tmp_path_factory.mktemp("tool")
    env = dict(os.environ, UV_TOOL_DIR=str(home / "tools"), UV_TOOL_BIN_DIR=str(home / "bin"))
    env.pop("VIRTUAL_ENV", None)
    # Our packages are rebuilt from the tree, never taken from uv's cache of an older build.
    fresh = [arg for package in OURS for arg in ("--refresh-package", package)]
    run(UV, "tool", "install", *fresh, f"{ROOT / 'packages/sdk'}[cli]", cwd=home, env=env)
    return home / "bin/shipyard"


class TestTool:
    def test_files_paths_are_the_callers(self, tool: Path, bay_url: str, tmp_path: Path) -> None:
        env = dict(os.environ, SHIPYARD_ENDPOINT=bay_url, SHIPYARD_API_KEY=ADMIN_KEY)
        sandbox = run(tool, "sandbox", "create", cwd=tmp_path, env=env).strip()
        (tmp_path / "up.txt").write_text("from the caller's directory")
        (tmp_path / "back").mkdir()
        env["SHIPYARD_SANDBOX"] = sandbox
        run(tool, "files", "put", "up.txt", "-q", cwd=tmp_path, env=env)
        run(tool, "files", "get", "up.txt", "-q", cwd=tmp_path / "back", env=env)
        run(tool, "files", "get", "up.txt", "named.txt", "-q", cwd=tmp_path / "back", env=env)
        run(tool, "sandbox", "delete", sandbox, cwd=tmp_path, env=env)
        assert (tmp_path / "back/up.txt").read_text() == "from the caller's directory"
        assert (tmp_path / "back/named.txt").read_text() == "from the caller's directory"
