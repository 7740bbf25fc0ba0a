"""`shipyard profiles --detail`: each profile's description, limits, network, warm pool and
capabilities, as `GET /v1/profiles?detail=true` gives them."""

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from bay.config import ProfileSettings, ResourceSettings
from shipyard.cli import app
from tests.unit.bay.conftest import ADMIN_KEY
from tests.unit.sdk.live import serve_bay

DATA = ProfileSettings(
    id="data",
    description="More memory for data work",
    resources=ResourceSettings(cpus=2.0, memory="4g"),
    capabilities=["filesystem", "python"],
    network=True,
    warm_pool_size=2,
    preload=["json"],
)


@pytest.fixture(scope="module")
def bay_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # The pool stays off: this is about what the listing says, not about warm sandboxes.
    overrides = {"profiles": [DATA], "warm_pool": {"enabled": False}}
    with serve_bay(tmp_path_factory.mktemp("bay"), **overrides) as url:
        yield url


def profiles(bay_url: str, *args: str) -> str:
    argv = ["--endpoint", bay_url, "--api-key", ADMIN_KEY, "profiles", *args]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    return result.stdout


def lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines()]


def test_detail_shows_every_fact_of_the_profile(bay_url: str) -> None:
    shown = lines(profiles(bay_url, "--detail"))
    assert shown[0] == "data"
    assert {
        "description More memory for data work",
        "capabilities filesystem, python",
        "limits 2 CPU, 4g memory, idle timeout 1800 s",
        "network internet",
        "warm pool 2 ready sandboxes",
        "preload json",
    } <= set(shown)


def test_without_detail_a_table_without_them(bay_url: str) -> None:
    shown = profiles(bay_url)
    assert "data" in shown
    assert "More memory" not in shown
    assert "warm pool" not in shown


def test_detail_json_carries_network_and_warm_pool(bay_url: str) -> None:
    [item] = json.loads(profiles(bay_url, "--detail", "--json"))["items"]
    assert (item["network"]["egress"], item["warm_pool_size"]) == ("internet", 2)
    assert item["description"] == "More memory for data work"


def test_the_listing_without_detail_leaves_them_out(bay_url: str) -> None:
    [item] = json.loads(profiles(bay_url, "--json"))["items"]
    assert (item["network"], item["warm_pool_size"], item["description"]) == (None, None, None)
