"""`shipyard process start|list|logs|kill`."""

import json

from shipyard import Client
from tests.unit.cli.conftest import Shipyard


def start(shipyard: Shipyard, sandbox_id: str, *args: str) -> str:
    result = shipyard("process", "start", "-s", sandbox_id, *args)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


class TestStart:
    def test_prints_the_id_and_passes_env(
        self, shipyard: Shipyard, sandbox_id: str, client: Client
    ) -> None:
        process_id = start(shipyard, sandbox_id, "echo $A$B", "-e", "A=1", "--env", "B=x=y")
        info = client.sandboxes.get(sandbox_id).processes.wait(process_id, timeout=10)
        assert (info.process_id, info.exit_code) == (process_id, 0)
        logs = shipyard("process", "logs", "-s", sandbox_id, process_id)
        assert (logs.exit_code, logs.stdout) == (0, "1x=y\n")

    def test_bad_env_is_refused(self, shipyard: Shipyard, sandbox_id: str) -> None:
        result = shipyard("process", "start", "-s", sandbox_id, "true", "-e", "NOVALUE")
        assert (result.exit_code, result.stderr) == (1, "Error: --env takes NAME=VALUE\n")


class TestList:
    def test_table_and_json(self, shipyard: Shipyard, sandbox_id: str) -> None:
        process_id = start(shipyard, sandbox_id, "sleep 30")
        table = shipyard("process", "list", "-s", sandbox_id)
        assert process_id in table.stdout
        listed = json.loads(shipyard("process", "list", "-s", sandbox_id, "--json").stdout)
        assert [p["state"] for p in listed["processes"]] == ["running"]


class TestLogs:
    def test_follow_prints_until_exit(self, shipyard: Shipyard, sandbox_id: str) -> None:
        process_id = start(shipyard, sandbox_id, "echo a >&2; sleep 0.3; echo b >&2")
        result = shipyard("process", "logs", "-s", sandbox_id, process_id, "--stderr", "-f")
        assert (result.exit_code, result.stdout) == (0, "a\nb\n")

    def test_offset_and_json(self, shipyard: Shipyard, sandbox_id: str, client: Client) -> None:
        process_id = start(shipyard, sandbox_id, "echo hello")
        client.sandboxes.get(sandbox_id).processes.wait(process_id, timeout=10)
        args = ("process", "logs", "-s", sandbox_id, process_id, "--offset", "2", "--json")
        page = json.loads(shipyard(*args).stdout)
        assert (page["data"], page["next_offset"], page["eof"]) == ("llo\n", 6, True)

    def test_unknown_process_fails(self, shipyard: Shipyard, sandbox_id: str) -> None:
        result = shipyard("process", "logs", "-s", sandbox_id, "proc-nope")
        assert result.exit_code == 1
        assert result.stderr.startswith("Error: [not_found]")


class TestKill:
    def test_signal_keeps_it_and_kill_forgets_it(
        self, shipyard: Shipyard, sandbox_id: str, client: Client
    ) -> None:
        process_id = start(shipyard, sandbox_id, "sleep 30")
        sent = shipyard("process", "kill", "-s", sandbox_id, process_id, "--signal", "TERM")
        assert sent.stdout == f"sent TERM to {process_id}\n"
        processes = client.sandboxes.get(sandbox_id).processes
        assert processes.wait(process_id, timeout=10).state == "exited"
        killed = shipyard("process", "kill", "-s", sandbox_id, process_id, "--json")
        assert json.loads(killed.stdout)["process_id"] == process_id
        assert processes.list() == []
