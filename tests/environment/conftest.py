"""The sandbox environment (images/sandbox) on the drivers that run it: local and Docker."""

import os
import shutil
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bay.drivers.base import Driver, Instance, Limits
from tests.bay_process import sandbox_rootfs
from tests.engines import VARIANT_PARAMS, new_cargo, new_spec, require

# Importing the whole data stack at once takes a few hundred MB.
LIMITS = Limits(cpus=1.0, memory_bytes=1024 * 1024 * 1024, pids=256)


@pytest.fixture(scope="module", params=[p for p in VARIANT_PARAMS if p.values[0] != "docker+runsc"])
def variant(request: pytest.FixtureRequest) -> str:
    variant = require(request.param)
    if variant == "local" and sandbox_rootfs() is None:
        if os.geteuid() != 0 or shutil.which("debootstrap") is None:
            pytest.skip("local: the sandbox environment cannot be built here (root, debootstrap)")
        pytest.fail("no sandbox environment for the local driver: run `make rootfs`")
    return variant


async def start(variant: str, driver: Driver, cargo: str | None = None) -> Instance:
    cargo = cargo or await new_cargo(driver)
    return await driver.start(new_spec(variant, cargo, LIMITS))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sandbox(variant: str, driver: Driver) -> AsyncIterator[Instance]:
    instance = await start(variant, driver)
    yield instance
    await driver.stop(instance.ref)
