"""What of the host a sandbox sees for Ship's venv: never `/`, never Bay's data dir."""

from pathlib import Path

import pytest

from bay.drivers.base import DriverUnavailableError
from bay.drivers.rootfs import venv_paths


def make_venv(path: Path, home: str) -> Path:
    (path / "lib" / "python3.11" / "site-packages").mkdir(parents=True)
    (path / "pyvenv.cfg").write_text(f"home = {home}\nversion = 3.11.2\n")
    return path


def test_a_venv_on_the_system_interpreter_shows_only_itself(tmp_path: Path) -> None:
    venv = make_venv(tmp_path / "venv", "/usr/bin")
    assert venv_paths(venv, tmp_path / "data") == [venv]


def test_a_venv_whose_interpreter_is_in_bin_is_refused(tmp_path: Path) -> None:
    venv = make_venv(tmp_path / "venv", "/bin")
    with pytest.raises(DriverUnavailableError, match="the whole host"):
        venv_paths(venv, tmp_path / "data")


def test_a_path_holding_the_data_dir_is_refused(tmp_path: Path) -> None:
    interpreter = tmp_path / "python" / "bin"
    interpreter.mkdir(parents=True)
    venv = make_venv(tmp_path / "venv", str(interpreter))
    with pytest.raises(DriverUnavailableError, match="Bay data dir"):
        venv_paths(venv, tmp_path / "python" / "bay-data")
