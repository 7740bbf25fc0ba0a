"""Profiles: the `preload` setting, from its validation to the kernel that imports it."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from bay.config import ProfileSettings, Settings
from tests.unit.bay.conftest import AUTH, make_settings, start_bay

PRELOADING = ProfileSettings(id="python-default", preload=["json", "no_such_module_here"])


class TestPreloadValidation:
    @pytest.mark.parametrize("name", ["numpy", "matplotlib.pyplot", "_private.mod_2"])
    def test_dotted_module_names_are_accepted(self, name: str) -> None:
        assert ProfileSettings(id="p", preload=[name]).preload == [name]

    @pytest.mark.parametrize(
        "name", ["", "numpy pandas", "numpy,pandas", "2d", "a..b", "a.", "os;import x", "-m"]
    )
    def test_anything_else_is_refused(self, name: str) -> None:
        with pytest.raises(ValidationError, match="preload"):
            ProfileSettings(id="p", preload=[name])

    def test_python_data_preloads_the_data_stack(self) -> None:
        [data] = [p for p in Settings().profiles if p.id == "python-data"]

        assert data.preload == ["numpy", "pandas", "matplotlib.pyplot"]


class TestPreloadInSessions:
    async def test_the_listing_shows_it_with_detail(self, tmp_path: Path) -> None:
        async with start_bay(make_settings(tmp_path, profiles=[PRELOADING])) as bay:
            brief = (await bay.client.get("/v1/profiles")).json()["items"]
            detail = (await bay.client.get("/v1/profiles?detail=true")).json()["items"]

        assert brief[0]["preload"] is None
        assert detail[0]["preload"] == ["json", "no_such_module_here"]

    async def test_ship_gets_it_and_the_first_execution_warns_of_a_failure(
        self, tmp_path: Path
    ) -> None:
        async with start_bay(make_settings(tmp_path, profiles=[PRELOADING])) as bay:
            sandbox_id = await bay.sandbox()
            url = f"/v1/sandboxes/{sandbox_id}/python/exec"
            first = await bay.client.post(url, json={"code": "1 + 1"}, headers=AUTH)
            spec = bay.driver.started[-1]

        assert spec.env["SHIP_PRELOAD"] == "json,no_such_module_here"
        assert first.json()["success"] is True
        assert "no_such_module_here: ModuleNotFoundError" in first.json()["output"]

    async def test_a_profile_without_it_sets_nothing(self, tmp_path: Path) -> None:
        async with start_bay(make_settings(tmp_path)) as bay:
            await bay.client.post(
                f"/v1/sandboxes/{await bay.sandbox()}/python/exec",
                json={"code": "1"},
                headers=AUTH,
            )
            spec = bay.driver.started[-1]

        assert "SHIP_PRELOAD" not in spec.env
