"""`shipyard browser` and `shipyard skills run`, with the fake driver's stand-in agent-browser."""

import json

from shipyard import Client
from tests.unit.cli.conftest import Shipyard
from tests.unit.sdk import live

live_url = live.browser_bay_url
browser_id = live.browser_sandbox_id


class TestOneCommand:
    def test_prints_the_output(self, shipyard: Shipyard, browser_id: str) -> None:
        result = shipyard("browser", "-s", browser_id, "open about:blank")
        assert (result.exit_code, result.stdout, result.stderr) == (0, "open about:blank\n", "")

    def test_a_failure_sets_the_exit_status(self, shipyard: Shipyard, browser_id: str) -> None:
        result = shipyard("browser", "-s", browser_id, "fail")
        assert (result.exit_code, result.stdout, result.stderr) == (1, "", "no element matches\n")

    def test_trace_prints_the_ref(self, shipyard: Shipyard, browser_id: str) -> None:
        result = shipyard("browser", "-s", browser_id, "echo a", "--trace")
        assert result.stdout == "echo a\n"
        assert result.stderr.startswith("trace: blob:")

    def test_json(self, shipyard: Shipyard, browser_id: str) -> None:
        result = shipyard("browser", "-s", browser_id, "echo a", "--json")
        answer = json.loads(result.stdout)
        assert (answer["success"], answer["exit_code"]) == (True, 0)

    def test_a_sandbox_without_a_browser_is_an_error_line(
        self, shipyard: Shipyard, sandbox_id: str
    ) -> None:
        result = shipyard("browser", "-s", sandbox_id, "open about:blank")
        assert result.exit_code == 1
        assert result.stderr.startswith("Error: [capability_not_supported]")
        assert "Traceback" not in result.output


class TestBatch:
    def test_stops_at_the_first_failure(self, shipyard: Shipyard, browser_id: str) -> None:
        result = shipyard("browser", "-s", browser_id, "echo a", "fail", "echo b")
        assert (result.exit_code, result.stdout) == (1, "echo a\n")
        assert result.stderr == (
            "no element matches\nError: step 2 (fail) exited 1; 2 of 3 steps ran\n"
        )

    def test_keep_going_runs_the_rest(self, shipyard: Shipyard, browser_id: str) -> None:
        result = shipyard("browser", "-s", browser_id, "fail", "echo b", "--keep-going")
        assert (result.exit_code, result.stdout) == (1, "echo b\n")
        assert result.stderr.endswith("2 of 2 steps ran\n")

    def test_all_passing_exits_0(self, shipyard: Shipyard, browser_id: str) -> None:
        result = shipyard("browser", "-s", browser_id, "open about:blank", "echo b")
        assert (result.exit_code, result.stdout) == (0, "open about:blank\necho b\n")


class TestSkillRun:
    def test_replays_the_release(self, shipyard: Shipyard, client: Client, browser_id: str) -> None:
        sandbox = client.sandboxes.get(browser_id)
        source = sandbox.browser.exec("open about:blank").execution_id
        ref = client.skills.create_payload(payload={"commands": ["echo one", "echo two"]})
        made = client.skills.create_candidate(
            skill_key="cli-run", source_execution_ids=[source], payload_ref=ref.payload_ref
        )
        client.skills.evaluate_candidate(made.id, passed=True)
        release = client.skills.promote_candidate(made.id)
        result = shipyard("skills", "run", "cli-run", "-s", browser_id)
        assert (result.exit_code, result.stdout) == (0, "echo one\necho two\n")
        assert result.stderr == f"cli-run: release {release.id}\n"

    def test_no_release_is_not_found(self, shipyard: Shipyard, browser_id: str) -> None:
        result = shipyard("skills", "run", "cli-none", "-s", browser_id)
        assert (result.exit_code, result.stderr[:18]) == (1, "Error: [not_found]")
