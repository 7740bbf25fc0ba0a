"""`shipyard exec python|shell`."""

import json

from shipyard import Client
from tests.unit.cli.conftest import Shipyard


class TestPython:
    def test_new_sandbox_prints_and_is_deleted(self, shipyard: Shipyard, client: Client) -> None:
        before = {s.id for s in client.sandboxes.list(limit=200).items}
        result = shipyard("exec", "python", "--sandbox", "new", "print(2**10)")
        assert (result.exit_code, result.stdout) == (0, "1024\n")
        assert {s.id for s in client.sandboxes.list(limit=200).items} == before

    def test_raising_code_exits_1_with_the_traceback(
        self, shipyard: Shipyard, sandbox_id: str
    ) -> None:
        result = shipyard("exec", "python", "-s", sandbox_id, "-", stdin="raise KeyError('k')")
        assert result.exit_code == 1
        assert "KeyError" in result.stderr


class TestShell:
    def test_exit_code_passes_through(self, shipyard: Shipyard, sandbox_id: str) -> None:
        result = shipyard("exec", "shell", "-s", sandbox_id, "echo hi; echo no >&2; exit 3")
        assert (result.exit_code, result.stdout, result.stderr) == (3, "hi\n", "no\n")

    def test_json_and_cwd(self, shipyard: Shipyard, sandbox_id: str) -> None:
        shipyard("exec", "shell", "-s", sandbox_id, "mkdir -p d && touch d/f")
        result = shipyard("exec", "shell", "-s", sandbox_id, "ls", "--cwd", "d", "--json")
        assert (result.exit_code, json.loads(result.stdout)["output"]) == (0, "f")

    def test_keep_reports_the_new_sandbox(self, shipyard: Shipyard, client: Client) -> None:
        result = shipyard("exec", "shell", "--sandbox", "new", "--keep", "true")
        kept = result.stderr.removeprefix("sandbox: ").strip()
        client.sandboxes.get(kept).delete()


class TestStreamedOutput:
    def test_python_result_and_display_go_to_stdout(
        self, shipyard: Shipyard, sandbox_id: str
    ) -> None:
        code = "from IPython.display import display\nprint('a')\ndisplay('shown')\n6 * 7"
        result = shipyard("exec", "python", "-s", sandbox_id, code)
        assert (result.exit_code, result.stdout) == (0, "a\n'shown'\n42\n")

    def test_shell_timeout_is_reported(self, shipyard: Shipyard, sandbox_id: str) -> None:
        result = shipyard(
            "exec", "shell", "-s", sandbox_id, "echo start; sleep 5", "--timeout", "1"
        )
        assert (result.stdout, result.stderr) == ("start\n", "Error: timed out\n")
        assert result.exit_code == 1
