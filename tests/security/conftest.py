"""Real sandboxes on every driver this machine has, for attacks from inside them."""

from collections.abc import AsyncIterator

import pytest_asyncio

from bay.drivers.base import Driver, Instance, Limits
from tests.engines import new_cargo, new_spec

LIMITS = Limits(cpus=1.0, memory_bytes=256 * 1024 * 1024, pids=128)
# gVisor's ptrace platform gives every sandbox thread a host thread; its kernel needs memory.
GVISOR_LIMITS = Limits(cpus=1.0, memory_bytes=512 * 1024 * 1024, pids=512)


def limits_for(variant: str) -> Limits:
    return GVISOR_LIMITS if variant == "docker+runsc" else LIMITS


async def start(variant: str, driver: Driver) -> Instance:
    return await driver.start(new_spec(variant, await new_cargo(driver), limits_for(variant)))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sandbox(variant: str, driver: Driver) -> AsyncIterator[Instance]:
    """The attacker's sandbox, shared by the attacks that leave nothing behind."""
    instance = await start(variant, driver)
    yield instance
    await driver.stop(instance.ref)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def neighbour(variant: str, driver: Driver) -> AsyncIterator[Instance]:
    """Another tenant's sandbox on the same host."""
    instance = await start(variant, driver)
    yield instance
    await driver.stop(instance.ref)
