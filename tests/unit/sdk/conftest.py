"""SDK fixtures: the async client on Bay in-process, the sync client on Bay in a thread."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shipyard import AsyncClient, Client
from tests.unit.bay.conftest import ADMIN_KEY, Bay, make_settings, start_bay
from tests.unit.sdk.live import serve_bay


@pytest.fixture
async def bay_app(tmp_path: Path) -> AsyncIterator[Bay]:
    async with start_bay(make_settings(tmp_path)) as bay:
        yield bay


@pytest.fixture
async def aclient(bay_app: Bay) -> AsyncIterator[AsyncClient]:
    transport = bay_app.client._transport
    async with AsyncClient("http://bay", ADMIN_KEY, transport=transport) as client:
        yield client


@pytest.fixture(scope="module")
def live_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data dir of the Bay at `live_url`."""
    return tmp_path_factory.mktemp("bay")


@pytest.fixture(scope="module")
def live_url(live_dir: Path) -> Iterator[str]:
    with serve_bay(live_dir) as url:
        yield url


@pytest.fixture(scope="module")
def client(live_url: str) -> Iterator[Client]:
    """One client per Bay at `live_url`, shared by the module's tests."""
    with Client(live_url, ADMIN_KEY) as sync_client:
        yield sync_client
