"""A spinner on stderr while a sandbox starts: drawn on a terminal, never into pipes or JSON."""

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.unit.bay.conftest import ADMIN_KEY
from tests.unit.cli.conftest import Shipyard

SHIPYARD = str(Path(sys.executable).with_name("shipyard"))


def run_with_tty_stderr(live_url: str, *args: str) -> tuple[str, str]:
    """`shipyard ARGS…` with stderr on a pseudo-terminal and stdout on a pipe."""
    leader, follower = pty.openpty()
    env = dict(os.environ, SHIPYARD_ENDPOINT=live_url, SHIPYARD_API_KEY=ADMIN_KEY)
    with subprocess.Popen(
        [SHIPYARD, *args], stdout=subprocess.PIPE, stderr=follower, env=env
    ) as process:
        os.close(follower)
        stdout, _ = process.communicate(timeout=60)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the terminal's last writer is gone
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    return stdout.decode(), seen.decode(errors="replace")


def test_spins_on_a_terminal_while_a_new_sandbox_starts(live_url: str) -> None:
    stdout, terminal = run_with_tty_stderr(live_url, "exec", "python", "-s", "new", "print(7)")
    assert stdout == "7\n"
    assert "starting sandbox-" in terminal


def test_a_ready_sandbox_does_not_spin(live_url: str, shipyard: Shipyard) -> None:
    sandbox_id = shipyard("sandbox", "create").stdout.strip()
    assert shipyard("exec", "shell", "-s", sandbox_id, "true").exit_code == 0  # now ready
    stdout, terminal = run_with_tty_stderr(live_url, "exec", "shell", "-s", sandbox_id, "echo a")
    shipyard("sandbox", "delete", sandbox_id)
    assert (stdout, terminal) == ("a\n", "")


def test_pipes_and_json_get_no_spinner(shipyard: Shipyard) -> None:
    printed = shipyard("exec", "python", "-s", "new", "print(7)")
    assert (printed.stdout, printed.stderr) == ("7\n", "")
    as_json = shipyard("exec", "shell", "-s", "new", "echo b", "--json")
    assert json.loads(as_json.stdout)["output"] == "b"
    assert as_json.stderr == ""
