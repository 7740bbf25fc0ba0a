"""CLI fixtures: `shipyard` through typer's runner against Bay served in a thread."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from shipyard import Client
from shipyard.cli import app
from tests.unit.bay.conftest import ADMIN_KEY
from tests.unit.sdk.live import serve_bay

Shipyard = Callable[..., Result]


@pytest.fixture(scope="package")
def live_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data dir of the Bay at `live_url`."""
    return tmp_path_factory.mktemp("bay")


@pytest.fixture(scope="package")
def live_url(live_dir: Path) -> Iterator[str]:
    with serve_bay(live_dir) as url:
        yield url


@pytest.fixture
def shipyard(live_url: str) -> Shipyard:
    """Run `shipyard ARGS…` signed in as admin; answers click's `Result`."""
    runner = CliRunner()

    def invoke(*args: str | Path, stdin: str | None = None) -> Result:
        argv = ["--endpoint", live_url, "--api-key", ADMIN_KEY, *map(str, args)]
        return runner.invoke(app, argv, input=stdin)

    return invoke


@pytest.fixture(scope="module")
def client(live_url: str) -> Iterator[Client]:
    """One client per Bay at `live_url`, shared by the module's tests."""
    with Client(live_url, ADMIN_KEY) as sync_client:
        yield sync_client


@pytest.fixture
def sandbox_id(client: Client) -> Iterator[str]:
    with client.sandboxes.create() as sandbox:
        yield sandbox.id
