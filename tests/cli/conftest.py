"""Our commands run as real processes (`bay`, `shipyard`, `shipyard-mcp`, `python -m ship`,
the SDK's quickstart), on the unit suites' fixtures: Bay served in a thread, a temp workspace,
and under `--database=postgres` the `bay` processes on PostgreSQL too."""

from tests.unit.bay.conftest import database_url, postgres_database
from tests.unit.cli.conftest import live_dir, live_url, shipyard
from tests.unit.ship.conftest import workspace

__all__ = [
    "database_url",
    "live_dir",
    "live_url",
    "postgres_database",
    "shipyard",
    "workspace",
]
