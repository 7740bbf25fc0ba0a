"""Fixtures for every unit test."""

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty HOME, so a `bash -l` that Ship runs in-process (its own tests, and Bay's on the
    fake driver) skips this machine's profile: slow, and a login shell killed inside it can
    leave a lock behind, as pyenv's rehash does, that hangs every later login shell."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("HOME", str(path))
    return path
