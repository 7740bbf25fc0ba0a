"""Fixtures of the suites that run on every real driver this machine has."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from bay.drivers.base import Driver
from tests.bay_process import traversable_tmp
from tests.engines import VARIANT_PARAMS, require, running_driver


@pytest.fixture(scope="module", params=VARIANT_PARAMS)
def variant(request: pytest.FixtureRequest) -> str:
    return require(request.param)


@pytest.fixture(scope="module")
def data_dir(variant: str) -> Iterator[Path]:
    # Short, so socket paths fit in sun_path; traversable, since local sandboxes run as host_uid.
    with traversable_tmp() as path:
        yield path


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def driver(variant: str, data_dir: Path) -> AsyncIterator[Driver]:
    async with running_driver(variant, data_dir) as driver:
        yield driver
