"""Fixtures for every unit test."""

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ship.files import Workspace, os_errors
from tests.unit.bay.conftest import TEMPLATE_ENV, migrate_template


@pytest.fixture(scope="session", autouse=True)
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One SQLite database migrated per session (per xdist worker), copied for every Bay."""
    path = tmp_path_factory.mktemp("template") / "bay.db"
    migrate_template(path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(TEMPLATE_ENV, str(path))
        yield path


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty HOME, so a `bash -l` that Ship runs in-process (its own tests, and Bay's on the
    fake driver) skips this machine's profile: slow, and a login shell killed inside it can
    leave a lock behind, as pyenv's rehash does, that hangs every later login shell."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("HOME", str(path))
    return path


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ship's text writes meet ENOSPC, as on a full cargo (which no test can fill)."""

    def full(self: Workspace, rel: str, content: str) -> int:
        with os_errors(rel):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Workspace, "write_text", full)
