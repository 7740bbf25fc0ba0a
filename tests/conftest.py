"""Fixtures of the suites that run on every real driver this machine has."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from bay.drivers.base import Driver
from tests.bay_process import traversable_tmp
from tests.engines import VARIANTS, make_driver, unavailable


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(v, marks=pytest.mark.local if v == "local" else pytest.mark.docker)
        for v in VARIANTS
    ],
)
def variant(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    reason = unavailable(name)
    if reason is not None:
        pytest.skip(f"{name}: {reason}")
    return name


@pytest.fixture(scope="module")
def data_dir(variant: str) -> Iterator[Path]:
    # Short, so socket paths fit in sun_path; traversable, since local sandboxes run as host_uid.
    with traversable_tmp() as path:
        yield path


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def driver(variant: str, data_dir: Path) -> AsyncIterator[Driver]:
    driver = make_driver(variant, data_dir)
    yield driver
    # Sessions outlive their driver by design; a failed test must not leave any running.
    for info in await driver.list_instances():
        await driver.stop(info.ref)
    await driver.close()
