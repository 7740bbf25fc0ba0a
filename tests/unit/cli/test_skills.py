"""`shipyard skills payloads|candidates|releases …` end to end on Bay in a thread."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shipyard import Client
from shipyard.cli import app
from tests.unit.cli.conftest import Shipyard


@pytest.fixture
def execution_id(client: Client) -> str:
    with client.sandboxes.create() as sandbox:
        return sandbox.shell.run("true").execution_id


def passing(shipyard: Shipyard, skill_key: str, execution_id: str) -> str:
    """A candidate of `skill_key` whose evaluation passed."""
    candidate_id = shipyard("skills", "candidates", "create", skill_key, execution_id).stdout
    candidate_id = candidate_id.strip()
    assert shipyard("skills", "candidates", "evaluate", candidate_id, "--passed").exit_code == 0
    return candidate_id


class TestPayloads:
    def test_create_from_a_file_and_show(self, shipyard: Shipyard, tmp_path: Path) -> None:
        path = tmp_path / "steps.json"
        path.write_text(json.dumps({"commands": ["open about:blank", "snapshot"]}))
        made = shipyard("skills", "payloads", "create", path, "--kind", "browser")
        ref = made.stdout.strip()
        assert (made.exit_code, ref[:5]) == (0, "blob:")
        shown = shipyard("skills", "payloads", "show", ref)
        assert json.loads(shown.stdout) == {"commands": ["open about:blank", "snapshot"]}
        detail = json.loads(shipyard("skills", "payloads", "show", ref, "--json").stdout)
        assert (detail["payload_ref"], detail["kind"]) == (ref, "browser")

    def test_create_from_stdin(self, shipyard: Shipyard) -> None:
        made = shipyard("skills", "payloads", "create", "-", stdin="[1, 2]")
        shown = shipyard("skills", "payloads", "show", made.stdout.strip())
        assert json.loads(shown.stdout) == [1, 2]

    def test_a_file_that_is_not_json_is_refused(self, shipyard: Shipyard, tmp_path: Path) -> None:
        path = tmp_path / "steps.json"
        path.write_text("{not json")
        result = shipyard("skills", "payloads", "create", path)
        assert result.exit_code == 1
        assert result.stderr.startswith(f"Error: {path} is not JSON")

    def test_a_scalar_is_refused(self, shipyard: Shipyard) -> None:
        result = shipyard("skills", "payloads", "create", "-", stdin="3")
        assert (result.exit_code, result.stderr) == (
            1,
            "Error: a payload is a JSON object or array\n",
        )

    def test_unknown_ref_is_an_error_line(self, shipyard: Shipyard) -> None:
        result = shipyard("skills", "payloads", "show", "blob:blob-000000000000")
        assert result.exit_code == 1
        assert result.stderr.startswith("Error: [not_found]")


class TestCandidates:
    def test_create_list_show(self, shipyard: Shipyard, execution_id: str) -> None:
        made = shipyard(
            "skills", "candidates", "create", "cli-list", execution_id, "--summary", "does it"
        )
        candidate_id = made.stdout.strip()
        assert candidate_id.startswith("sc-")
        listed = shipyard("skills", "candidates", "list", "--skill", "cli-list")
        assert candidate_id in listed.stdout
        shown = json.loads(shipyard("skills", "candidates", "show", candidate_id, "--json").stdout)
        assert (shown["summary"], shown["status"]) == ("does it", "draft")
        assert shown["source_execution_ids"] == [execution_id]

    def test_failed_evaluation_rejects(self, shipyard: Shipyard, execution_id: str) -> None:
        candidate_id = shipyard(
            "skills", "candidates", "create", "cli-reject", execution_id
        ).stdout.strip()
        evaluated = shipyard(
            "skills", "candidates", "evaluate", candidate_id, "--failed", "--score", "0.1"
        )
        assert evaluated.stdout.endswith(f"{candidate_id} failed\n")
        listed = shipyard("skills", "candidates", "list", "--status", "rejected", "--json")
        assert candidate_id in [item["id"] for item in json.loads(listed.stdout)["items"]]

    def test_promote_without_a_pass_is_a_conflict(
        self, shipyard: Shipyard, execution_id: str
    ) -> None:
        candidate_id = shipyard(
            "skills", "candidates", "create", "cli-draft", execution_id
        ).stdout.strip()
        result = shipyard("skills", "candidates", "promote", candidate_id)
        assert result.exit_code == 1
        assert result.stderr.startswith("Error: [conflict]")
        assert "Traceback" not in result.output

    def test_unknown_execution_is_refused(self, shipyard: Shipyard) -> None:
        result = shipyard("skills", "candidates", "create", "cli-x", "exec-000000000000")
        assert result.exit_code == 1
        assert result.stderr.startswith("Error: [validation_error]")


class TestReleases:
    def test_promote_health_rollback_delete(self, shipyard: Shipyard, execution_id: str) -> None:
        first = passing(shipyard, "cli-rel", execution_id)
        promoted = shipyard("skills", "candidates", "promote", first, "--stage", "stable")
        assert promoted.stdout.endswith("(cli-rel v1, stable)\n")
        second = passing(shipyard, "cli-rel", execution_id)
        release_id = shipyard("skills", "candidates", "promote", second).stdout.split()[0]
        active = shipyard("skills", "releases", "list", "--skill", "cli-rel", "--active", "--json")
        assert [r["id"] for r in json.loads(active.stdout)["items"]] == [release_id]

        health = json.loads(shipyard("skills", "releases", "health", release_id, "--json").stdout)
        assert (health["release_id"], health["samples"], health["healthy"]) == (
            release_id,
            0,
            True,
        )
        assert "should_rollback" in shipyard("skills", "releases", "health", release_id).stdout

        refused = shipyard("skills", "candidates", "delete", second)
        assert (refused.exit_code, refused.stderr[:17]) == (1, "Error: [conflict]")
        back = shipyard("skills", "releases", "rollback", release_id, "--json")
        restored = json.loads(back.stdout)
        assert (restored["version"], restored["candidate_id"]) == (3, first)
        assert restored["rollback_of"] == release_id
        shown = json.loads(shipyard("skills", "candidates", "show", second, "--json").stdout)
        assert shown["status"] == "rolled_back"

        deleted = shipyard("skills", "releases", "delete", restored["id"], "--reason", "done")
        assert deleted.stdout == f"deleted {restored['id']}\n"
        assert shipyard("skills", "candidates", "delete", second).exit_code == 0
        gone = shipyard("skills", "candidates", "show", second)
        assert (gone.exit_code, gone.stderr[:18]) == (1, "Error: [not_found]")

    def test_rollback_of_the_first_version_is_a_conflict(
        self, shipyard: Shipyard, execution_id: str
    ) -> None:
        candidate_id = passing(shipyard, "cli-only", execution_id)
        release_id = shipyard("skills", "candidates", "promote", candidate_id).stdout.split()[0]
        result = shipyard("skills", "releases", "rollback", release_id)
        assert (result.exit_code, result.stderr[:17]) == (1, "Error: [conflict]")


def test_another_owners_skills_are_not_found(
    shipyard: Shipyard, client: Client, live_url: str, execution_id: str
) -> None:
    candidate_id = passing(shipyard, "cli-mine", execution_id)
    release_id = shipyard("skills", "candidates", "promote", candidate_id).stdout.split()[0]
    other = client.admin.keys.create("cli-skills-other").api_key
    runner = CliRunner()
    for args in (
        ["candidates", "show", candidate_id],
        ["candidates", "delete", candidate_id],
        ["releases", "health", release_id],
        ["releases", "rollback", release_id],
    ):
        argv = ["--endpoint", live_url, "--api-key", other, "skills", *args]
        result = runner.invoke(app, argv)
        assert (result.exit_code, result.stderr[:18]) == (1, "Error: [not_found]"), args
