"""Installs from the package index in a sandbox with network. Docker only for now: the local
driver gives network with the network policy (issue 13), and joins this module then."""

import pytest

from bay.drivers.base import Driver
from tests.engines import VARIANT_PARAMS, new_cargo, new_spec, py, require, sh
from tests.environment.conftest import LIMITS

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(600)]


@pytest.fixture(scope="module", params=[p for p in VARIANT_PARAMS if p.values[0] == "docker"])
def variant(request: pytest.FixtureRequest) -> str:
    return require(request.param)


async def test_pip_install_from_the_index_imports_at_once_and_stays(
    variant: str, driver: Driver
) -> None:
    """From the index this machine's pip is configured with (the environment carries its
    setting and CAs); the package is not in the environment. Then a new session on the cargo
    (what stop/start and a second sandbox on it are) still imports it."""
    cargo = await new_cargo(driver)
    instance = await driver.start(new_spec(variant, cargo, LIMITS, network=True))
    try:
        assert (await py(instance, "import json"))["success"]  # the kernel runs before
        absent = await sh(instance, "python3 -c 'import tomli_w'")
        assert absent["exit_code"] != 0
        installed = await sh(instance, "pip install tomli-w", timeout=300)
        assert installed["exit_code"] == 0, installed
        result = await py(instance, "import tomli_w; print(tomli_w.dumps({'a': 1}))")
        assert result["text"].strip() == "a = 1", result
    finally:
        await driver.stop(instance.ref)
    offline = await driver.start(new_spec(variant, cargo, LIMITS))
    try:
        result = await py(offline, "import tomli_w; print(tomli_w.dumps({'b': 2}))")
        assert result["text"].strip() == "b = 2", result
    finally:
        await driver.stop(offline.ref)
