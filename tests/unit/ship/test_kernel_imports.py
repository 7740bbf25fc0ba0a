"""What a real kernel can import: Ship from a directory of its own under the user's Python,
packages installed while it runs, the profile's preloaded modules, and charts."""

import base64
import importlib.util
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import httpx
import pytest

import ship
from ship.kernel_process import KernelCommand

from .conftest import StartShip

NDJSON = {"Accept": "application/x-ndjson"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
needs_matplotlib = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None, reason="matplotlib is not installed here"
)


async def run(client: httpx.AsyncClient, code: str) -> dict[str, Any]:
    response = await client.post("/python/exec", json={"code": code, "timeout": 60})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture(scope="module")
def user_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A Python like the sandbox's /usr/bin/python3: ipykernel and its user site, but no Ship.

    A venv with the system's site-packages (so the user site is on) that sees this test
    environment's site-packages through a path line, whose own `.pth` files (the editable
    installs of Ship and the protocol) are therefore not read.
    """
    venv = tmp_path_factory.mktemp("user-python")
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run(
        [base, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True
    )
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(purelib, "dev-environment.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return str(python)


@pytest.fixture(scope="module")
def ship_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding only a `ship` symlink, as the rootfs's /opt/ship/kernel."""
    path = tmp_path_factory.mktemp("ship-kernel")
    (path / "ship").symlink_to(Path(ship.__file__).parent)
    return path


def imports(python: str, module: str) -> bool:
    found = subprocess.run([python, "-P", "-c", f"import {module}"], capture_output=True, cwd="/")
    return found.returncode == 0


class TestKernelPython:
    async def test_the_user_python_runs_the_kernel_with_ship_after_its_path(
        self, start_ship: StartShip, user_python: str, ship_dir: Path
    ) -> None:
        assert not imports(user_python, "ship")
        assert not imports(user_python, "shipyard_protocol")
        command = KernelCommand(python=user_python, ship_path=str(ship_dir))
        async with start_ship(kernel=command) as client:
            outcome = await run(client, "import sys\nprint(sys.executable)\nsys.path")

        assert outcome["success"] is True, outcome
        assert outcome["text"].splitlines()[0] == user_python
        assert outcome["text"].rstrip().endswith(f"{str(ship_dir)!r}]")

    async def test_the_kernel_env_holds_no_ship_setting(
        self,
        start_ship: StartShip,
        user_python: str,
        ship_dir: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("SHIP_KERNEL_PATH", str(ship_dir))
        command = KernelCommand(python=user_python, ship_path=str(ship_dir))
        async with start_ship(kernel=command) as client:
            outcome = await run(
                client, "import os\n[k for k in os.environ if k.startswith('SHIP_')]"
            )

        assert outcome["text"] == "[]"

    def test_settings_come_from_the_environment(self) -> None:
        env = {
            "SHIP_KERNEL_PYTHON": "/usr/bin/python3",
            "SHIP_KERNEL_PATH": "/opt/ship/kernel",
            "SHIP_PRELOAD": "numpy, pandas,,matplotlib.pyplot",
        }

        command = KernelCommand.from_env(env)

        assert (command.python, command.ship_path) == ("/usr/bin/python3", "/opt/ship/kernel")
        assert command.preload == ("numpy", "pandas", "matplotlib.pyplot")

    def test_by_default_ships_own_interpreter_runs_it(self) -> None:
        command = KernelCommand.from_env({})

        assert (command.python, command.ship_path, command.preload) == (sys.executable, "", ())


class TestInstallsWhileRunning:
    async def test_a_module_written_to_the_user_site_imports_at_once(
        self, start_ship: StartShip, user_python: str, ship_dir: Path, home: Path
    ) -> None:
        """What `pip install --user` does from the shell, into a user site missing at start."""
        command = KernelCommand(python=user_python, ship_path=str(ship_dir))
        async with start_ship(kernel=command) as client:
            user_site = (await run(client, "import site\nprint(site.getusersitepackages())"))[
                "text"
            ]
            missing = await run(client, "import fresh_package")
            Path(user_site).mkdir(parents=True)
            Path(user_site, "fresh_package.py").write_text("VALUE = 42\n")
            found = await run(client, "import fresh_package\nfresh_package.VALUE")

        assert user_site.startswith(str(home))
        assert missing["error"]["name"] == "ModuleNotFoundError"
        assert found["text"] == "42", found

    async def test_a_module_added_in_the_same_mtime_tick_imports_at_once(
        self, client: httpx.AsyncClient, workspace: Path
    ) -> None:
        """The import system rereads a directory it listed only when its mtime changed, which
        a write within the clock's granularity does not do; here the mtime is put back."""
        missing = await run(client, "import later_module")
        listed = workspace.stat()
        (workspace / "later_module.py").write_text("VALUE = 7\n")
        os.utime(workspace, ns=(listed.st_atime_ns, listed.st_mtime_ns))
        found = await run(client, "import later_module\nlater_module.VALUE")

        assert missing["error"]["name"] == "ModuleNotFoundError"
        assert found["text"] == "7", found


class TestPreload:
    async def test_preloaded_modules_are_imported_before_the_first_execution(
        self, start_ship: StartShip, workspace: Path
    ) -> None:
        (workspace / "slow_module.py").write_text("LOADED = True\n")
        async with start_ship(kernel=KernelCommand(preload=["slow_module"])) as client:
            outcome = await run(client, "import sys\n'slow_module' in sys.modules")

        assert outcome["text"] == "True"

    async def test_failures_are_a_warning_on_the_first_execution(
        self, start_ship: StartShip, workspace: Path
    ) -> None:
        (workspace / "raises.py").write_text("raise RuntimeError('boom')\n")
        (workspace / "exits.py").write_text("raise SystemExit(3)\n")
        (workspace / "fine.py").write_text("")
        preload = ["no_such_module", "raises", "exits", "fine"]
        async with start_ship(kernel=KernelCommand(preload=preload)) as client:
            first = await run(client, "import sys\n'fine' in sys.modules")
            second = await run(client, "1 + 1")

        assert first["success"] is True
        warning, result = first["text"].rsplit("\n", 1)
        assert warning.splitlines() == [
            "Warning: modules the profile preloads failed to import:",
            "  no_such_module: ModuleNotFoundError: No module named 'no_such_module'",
            "  raises: RuntimeError: boom",
            "  exits: SystemExit: 3",
        ]
        assert result == "True"
        assert (second["text"], second["kernel_generation"]) == ("2", 1)

    @needs_matplotlib
    async def test_pyplot_comes_with_its_inline_backend(self, start_ship: StartShip) -> None:
        preload = ["matplotlib.pyplot"]
        async with start_ship(kernel=KernelCommand(preload=preload)) as client:
            outcome = await run(
                client, "import sys\n'matplotlib_inline.backend_inline' in sys.modules"
            )

        assert outcome["text"] == "True"


@needs_matplotlib
@pytest.mark.asyncio(loop_scope="module")
class TestCharts:
    """One kernel for the three: matplotlib is imported (its fonts listed) once, not thrice."""

    async def test_plt_show_returns_a_png(self, shared_client: httpx.AsyncClient) -> None:
        code = "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()"

        outcome = await run(shared_client, code)

        assert (outcome["success"], outcome["text"]) == (True, ""), outcome
        [bundle] = outcome["outputs"]
        assert base64.b64decode(bundle["image/png"]).startswith(PNG_MAGIC)

    async def test_a_figure_as_the_last_value_is_a_png(
        self, shared_client: httpx.AsyncClient
    ) -> None:
        code = (
            "import matplotlib.pyplot as plt\nfigure, axes = plt.subplots()\naxes.plot([1, 2])\n"
            "plt.close(figure)  # else the inline backend shows it too, after the cell\nfigure"
        )

        outcome = await run(shared_client, code)

        [bundle] = outcome["outputs"]
        assert base64.b64decode(bundle["image/png"]).startswith(PNG_MAGIC)

    async def test_a_chart_streams_as_a_display_event(
        self, shared_client: httpx.AsyncClient
    ) -> None:
        code = "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()"
        response = await shared_client.post("/python/exec", json={"code": code}, headers=NDJSON)
        events = [json.loads(line) for line in response.text.splitlines()]

        assert [event["kind"] for event in events] == ["display", "end"]
        assert base64.b64decode(events[0]["data"]["image/png"]).startswith(PNG_MAGIC)
