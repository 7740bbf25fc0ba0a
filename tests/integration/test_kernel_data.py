"""The kernel in the Docker image, which has the data stack: preloaded modules, charts as PNG,
tables as HTML, whether collected or streamed."""

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from bay.drivers.base import Driver, Instance, Limits
from tests.engines import new_cargo, new_spec, py, require, ship

pytestmark = [pytest.mark.docker, pytest.mark.asyncio(loop_scope="module")]

LIMITS = Limits(cpus=1.0, memory_bytes=1024 * 1024 * 1024, pids=512)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CHART = "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()"


@pytest.fixture(scope="module")
def variant() -> str:
    return require("docker")


async def start(variant: str, driver: Driver, env: dict[str, str]) -> Instance:
    spec = new_spec(variant, await new_cargo(driver), LIMITS, env=env)
    return await driver.start(spec)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(variant: str, driver: Driver) -> AsyncIterator[Instance]:
    instance = await start(variant, driver, {})
    yield instance
    await driver.stop(instance.ref)


def png(bundle: dict[str, Any]) -> bytes:
    return base64.b64decode(bundle["image/png"])


async def test_preloaded_modules_are_there_at_the_first_execution(
    variant: str, driver: Driver
) -> None:
    env = {"SHIP_PRELOAD": "pandas,matplotlib.pyplot", "SHIP_PRESTART_KERNEL": "1"}
    instance = await start(variant, driver, env)
    try:
        outcome = await py(
            instance,
            "import sys\n"
            "[m in sys.modules for m in "
            "('pandas', 'matplotlib.pyplot', 'matplotlib_inline.backend_inline')]",
        )
    finally:
        await driver.stop(instance.ref)

    assert outcome["text"] == "[True, True, True]", outcome


async def test_plt_show_returns_a_png_and_no_warning(shared: Instance) -> None:
    outcome = await py(shared, CHART)

    assert (outcome["success"], outcome["text"]) == (True, ""), outcome
    [bundle] = outcome["outputs"]
    assert png(bundle).startswith(PNG_MAGIC)
    assert len(png(bundle)) > 5000  # a drawn line, not an empty canvas


async def test_a_figure_as_the_last_value_is_a_png(shared: Instance) -> None:
    code = (
        "import matplotlib.pyplot as plt\nfigure, axes = plt.subplots()\naxes.plot([1, 2])\n"
        "plt.close(figure)\nfigure"
    )

    outcome = await py(shared, code)

    [bundle] = outcome["outputs"]
    assert png(bundle).startswith(PNG_MAGIC)


async def test_display_of_a_data_frame_is_html(shared: Instance) -> None:
    code = (
        "import pandas\nfrom IPython.display import display\ndisplay(pandas.DataFrame({'a': [1]}))"
    )

    outcome = await py(shared, code)

    [bundle] = outcome["outputs"]
    assert "<table" in bundle["text/html"]


async def test_a_streamed_chart_is_a_display_event(shared: Instance) -> None:
    async with ship(shared) as client:
        response = await client.post(
            "/python/exec", json={"code": CHART}, headers={"Accept": "application/x-ndjson"}
        )
    events = [json.loads(line) for line in response.text.splitlines()]

    assert [event["kind"] for event in events] == ["display", "end"]
    assert png(events[0]["data"]).startswith(PNG_MAGIC)
