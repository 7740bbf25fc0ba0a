"""Where Settings come from: init, then env, then the YAML file, then defaults."""

from pathlib import Path
from typing import Any

import yaml

from bay.config import Settings


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
