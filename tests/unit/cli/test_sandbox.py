"""`shipyard sandbox create|list|get|stop|delete`."""

import json
import re
import socket

from typer.testing import CliRunner

from shipyard import Client
from shipyard.cli import app
from tests.unit.cli.conftest import Shipyard


class TestCreate:
    def test_prints_the_id(self, shipyard: Shipyard, client: Client) -> None:
        result = shipyard("sandbox", "create", "--ttl", "600")
        assert result.exit_code == 0, result.output
        sandbox = client.sandboxes.get(result.stdout.strip())
        assert sandbox.info.expires_at is not None

    def test_json_prints_the_sandbox(self, shipyard: Shipyard) -> None:
        result = shipyard("sandbox", "create", "--profile", "python-only", "--json")
        assert json.loads(result.stdout)["capabilities"] == ["python"]

    def test_metadata_and_env_options(self, shipyard: Shipyard, client: Client) -> None:
        made = shipyard("sandbox", "create", "--metadata", "team=a", "--env", "K=v=w", "--json")
        assert made.exit_code == 0, made.output
        assert json.loads(made.stdout)["metadata"] == {"team": "a"}
        listed = shipyard("sandbox", "list", "--metadata", "team=a", "--json")
        assert [item["metadata"] for item in json.loads(listed.stdout)["items"]] == [{"team": "a"}]

    def test_an_option_without_equals_is_a_usage_error(self, shipyard: Shipyard) -> None:
        result = shipyard("sandbox", "create", "--env", "NOEQUALS")
        assert result.exit_code == 2
        assert "'NOEQUALS' is not KEY=VALUE" in result.output

    def test_unknown_profile_fails_with_the_error(self, shipyard: Shipyard) -> None:
        result = shipyard("sandbox", "create", "--profile", "nope")
        assert result.exit_code == 1
        assert result.stderr.startswith("Error: [validation_error]")


class TestList:
    def test_table_names_the_sandbox(self, shipyard: Shipyard, sandbox_id: str) -> None:
        result = shipyard("sandbox", "list")
        assert sandbox_id in result.stdout

    def test_unknown_status_fails_naming_the_statuses(
        self, shipyard: Shipyard, sandbox_id: str
    ) -> None:
        result = shipyard("sandbox", "list", "--status", "bogus")
        assert result.exit_code == 1
        assert sandbox_id not in result.stdout
        assert "query.status: Input should be 'idle', 'starting', 'ready'" in result.stderr

    def test_json_pages(self, shipyard: Shipyard, sandbox_id: str) -> None:
        page = json.loads(shipyard("sandbox", "list", "--limit", "200", "--json").stdout)
        assert sandbox_id in [item["id"] for item in page["items"]]


class TestGet:
    def test_shows_fields(self, shipyard: Shipyard, sandbox_id: str) -> None:
        result = shipyard("sandbox", "get", sandbox_id)
        assert "python-default" in result.stdout
        assert sandbox_id in result.stdout
        assert "none (0 B in, 0 B out)" in result.stdout  # the policy, said plainly

    def test_missing_sandbox_exits_1(self, shipyard: Shipyard) -> None:
        result = shipyard("sandbox", "get", "sandbox-000000000000", "--json")
        assert (result.exit_code, result.stdout) == (1, "")
        assert "[not_found]" in result.stderr


class TestStop:
    def test_stops(self, shipyard: Shipyard, sandbox_id: str) -> None:
        result = shipyard("sandbox", "stop", sandbox_id, "--json")
        assert json.loads(result.stdout)["status"] == "idle"


class TestDelete:
    def test_deletes(self, shipyard: Shipyard, client: Client) -> None:
        sandbox_id = client.sandboxes.create().id
        assert shipyard("sandbox", "delete", sandbox_id).stdout == f"deleted {sandbox_id}\n"
        assert shipyard("sandbox", "get", sandbox_id).exit_code == 1


def test_no_bay_names_the_url_tried_and_the_setting() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"  # bound, not listening
        result = CliRunner().invoke(app, ["--endpoint", url, "--api-key", "k", "sandbox", "list"])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot reach Bay at {url}")
    assert "SHIPYARD_ENDPOINT" in result.stderr


def test_version_needs_no_bay(shipyard: Shipyard) -> None:
    result = shipyard("--version")
    assert result.exit_code == 0
    assert re.fullmatch(r"shipyard \d+\.\d+\.\d+\S*\n", result.stdout), result.stdout
