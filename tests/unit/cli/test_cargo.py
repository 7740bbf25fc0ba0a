"""`shipyard cargo create|list|get|delete` and `shipyard profiles`."""

import json

from typer.testing import CliRunner

from shipyard.cli import app
from tests.unit.cli.conftest import Shipyard


class TestCargo:
    def test_create_get_list_delete(self, shipyard: Shipyard) -> None:
        cargo_id = shipyard("cargo", "create", "--size-limit-mb", "7").stdout.strip()
        assert cargo_id.startswith("ws-")
        assert json.loads(shipyard("cargo", "get", cargo_id, "--json").stdout)["size_limit_mb"] == 7
        assert "size_limit_mb" in shipyard("cargo", "get", cargo_id).stdout
        assert cargo_id in shipyard("cargo", "list").stdout
        assert shipyard("cargo", "delete", cargo_id).stdout == f"deleted {cargo_id}\n"

    def test_list_managed_json(self, shipyard: Shipyard, sandbox_id: str) -> None:
        page = json.loads(shipyard("cargo", "list", "--managed", "--json", "--limit", "200").stdout)
        assert all(item["managed"] for item in page["items"])

    def test_create_json(self, shipyard: Shipyard) -> None:
        cargo = json.loads(shipyard("cargo", "create", "--json").stdout)
        assert json.loads(shipyard("cargo", "delete", cargo["id"], "--json").stdout)["deleted"]


class TestProfiles:
    def test_table(self, shipyard: Shipyard) -> None:
        assert "python-only" in shipyard("profiles").stdout

    def test_json_detail(self, shipyard: Shipyard) -> None:
        items = json.loads(shipyard("profiles", "--detail", "--json").stdout)["items"]
        assert items[0]["containers"] is not None


def test_endpoint_and_key_come_from_the_environment(live_url: str) -> None:
    env = {"SHIPYARD_ENDPOINT": live_url, "SHIPYARD_API_KEY": "sk-test-admin"}
    assert CliRunner().invoke(app, ["cargo", "list"], env=env).exit_code == 0


def test_unreachable_bay_fails_cleanly() -> None:
    result = CliRunner().invoke(app, ["--endpoint", "http://127.0.0.1:9", "profiles"])
    assert (result.exit_code, result.stderr.startswith("Error: cannot reach Bay")) == (1, True)
