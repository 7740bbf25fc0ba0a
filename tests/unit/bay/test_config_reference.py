"""docs/configuration.md is generated from the settings model and committed: a setting missing
from it, or a stale file, fails here (rewrite it with `scripts/config_reference.py`)."""

import importlib.util
from pathlib import Path
from types import ModuleType

from bay.config import ProfileSettings, Settings

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "config_reference.py"


def _script() -> ModuleType:
    """The script as a module (scripts/ is no package: it holds standalone tools)."""
    spec = importlib.util.spec_from_file_location("config_reference", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


script = _script()
REFERENCE, render, rows = script.REFERENCE, script.render, script.rows
HOW = "run scripts/config_reference.py and commit docs/configuration.md"


def test_every_setting_is_in_the_committed_reference() -> None:
    committed = REFERENCE.read_text()
    missing = [row.env for row in rows(Settings) if f"`{row.env}`" not in committed]
    assert not missing, f"{missing} are missing: {HOW}"


def test_every_profile_field_is_in_it() -> None:
    committed = REFERENCE.read_text()
    missing = [row.path for row in rows(ProfileSettings) if f"| `{row.path}` |" not in committed]
    assert not missing, f"{missing} are missing: {HOW}"


def test_the_committed_reference_is_current() -> None:
    assert REFERENCE.read_text() == render(), f"docs/configuration.md is stale: {HOW}"


def test_a_new_setting_would_be_listed() -> None:
    env = {row.env for row in rows(Settings)}
    assert {"BAY_SERVER__PORT", "BAY_DRIVER__LOCAL__ROOTFS", "BAY_WARM_POOL__ENABLED"} <= env
    assert "BAY_PROFILES" in env  # the list itself: its fields have their own table
