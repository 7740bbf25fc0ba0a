"""`shipyard terminal` where Bay refuses it; the interactive session is tested live on the
local driver (tests/integration/test_clients_live.py)."""

from pathlib import Path

from shipyard import Client
from tests.unit.cli.conftest import Shipyard
from tests.unit.sdk.live import refuse_every_ship


def test_refusal_is_reported_before_raw_mode(
    shipyard: Shipyard, client: Client, sandbox_id: str, live_dir: Path
) -> None:
    client.sandboxes.get(sandbox_id).shell.run("true")  # a running session, whose Ship dies
    refuse_every_ship(live_dir)
    result = shipyard("terminal", "-s", sandbox_id)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: [ship_error]")
    assert result.stdout == ""


def test_unknown_sandbox(shipyard: Shipyard) -> None:
    result = shipyard("terminal", "-s", "sandbox-nope")
    assert (result.exit_code, result.stderr.split("]")[0]) == (1, "Error: [not_found")
