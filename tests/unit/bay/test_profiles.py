"""Profiles: the `preload` setting, from its validation to the kernel that imports it; profiles
with several runtimes (a ship and a browser): normalisation, routing, listing, sessions."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from bay.config import ContainerSettings, ProfileSettings, ResourceSettings, Settings
from bay.services.profiles import capabilities, primary, route
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


def _browser_python() -> ProfileSettings:
    [profile] = [p for p in Settings().profiles if p.id == "browser-python"]
    return profile


class TestRuntimes:
    def test_a_legacy_profile_is_one_ship_named_primary(self) -> None:
        profile = ProfileSettings(id="p", capabilities=["python", "shell"])

        assert primary(profile).name == "primary"
        assert route(profile, "python").runtime_type == "ship"
        assert capabilities(profile) == ["python", "shell"]

    def test_the_capabilities_are_the_union_of_the_runtimes(self) -> None:
        assert capabilities(_browser_python()) == ["filesystem", "shell", "python", "browser"]

    def test_an_explicit_list_wins_over_the_union(self) -> None:
        profile = ProfileSettings.model_validate(
            {**_browser_python().model_dump(), "capabilities": ["python"]}
        )

        assert capabilities(profile) == ["python"]

    def test_capabilities_route_by_primary_for_then_by_offer(self) -> None:
        profile = ProfileSettings(
            id="p",
            containers=[
                ContainerSettings(name="a", capabilities=["python"]),
                ContainerSettings(name="ship", capabilities=["python"], primary_for=["python"]),
                ContainerSettings(name="b", runtime_type="browser", capabilities=["browser"]),
            ],
        )

        assert route(profile, "python").name == "ship"
        assert route(profile, "browser").name == "b"
        assert primary(profile).name == "ship"

    def test_an_isolated_browser_adds_the_capability(self) -> None:
        profile = ProfileSettings(id="p", browser="isolated")

        assert capabilities(profile) == ["filesystem", "shell", "python", "browser"]
        assert route(profile, "browser").runtime_type == "browser"

    def test_an_unknown_runtime_type_is_refused_at_load(self) -> None:
        with pytest.raises(ValidationError, match="runtime_type 'gull' is not one this Bay runs"):
            ContainerSettings(name="browser", runtime_type="gull")

    def test_a_shared_browser_is_refused_at_load(self) -> None:
        with pytest.raises(ValidationError, match="needs a global browser service"):
            ProfileSettings(id="p", browser="shared")

    def test_containers_need_a_ship(self) -> None:
        with pytest.raises(ValidationError, match="need one ship"):
            ProfileSettings(
                id="p", containers=[ContainerSettings(name="b", runtime_type="browser")]
            )

    def test_python_default_stays_one_ship_without_a_browser(self) -> None:
        [default] = [p for p in Settings().profiles if p.id == "python-default"]

        assert default.containers is None
        assert "browser" not in capabilities(default)


class TestRuntimesInSessions:
    async def test_the_detailed_listing_shows_each_runtime(self, tmp_path: Path) -> None:
        settings = make_settings(tmp_path, profiles=[_browser_python()])
        async with start_bay(settings) as bay:
            [item] = (await bay.client.get("/v1/profiles?detail=true")).json()["items"]

        assert item["capabilities"] == ["filesystem", "shell", "python", "browser"]
        assert item["resources"] == {"cpus": 1.0, "memory": "1g"}
        assert [(c["name"], c["runtime_type"]) for c in item["containers"]] == [
            ("ship", "ship"),
            ("browser", "browser"),
        ]
        assert item["containers"][1]["resources"] == {"cpus": 1.0, "memory": "2g"}

    async def test_a_session_asks_for_the_browser_with_its_own_limits(self, tmp_path: Path) -> None:
        profiles = [_browser_python(), ProfileSettings(id="python-default")]
        async with start_bay(make_settings(tmp_path, profiles=profiles)) as bay:
            for profile in ("browser-python", "python-default"):
                sandbox_id = await bay.sandbox(profile=profile)
                url = f"/v1/sandboxes/{sandbox_id}/shell/exec"
                answer = await bay.client.post(url, json={"command": "true"}, headers=AUTH)
                assert answer.status_code == 200, answer.text
            with_browser, without = bay.driver.started[-2:]

        assert with_browser.browser is not None
        assert with_browser.browser.limits.memory_bytes == 2 * 1024**3
        assert with_browser.browser.limits.cpus == 1.0
        assert with_browser.limits.memory_bytes == 1024**3
        assert without.browser is None

    async def test_container_env_reaches_the_session(self, tmp_path: Path) -> None:
        profile = ProfileSettings(
            id="python-default",
            env={"A": "profile", "B": "profile"},
            containers=[
                ContainerSettings(name="ship", capabilities=["shell"], env={"A": "ship"}),
                ContainerSettings(
                    name="browser",
                    runtime_type="browser",
                    capabilities=["browser"],
                    env={"B": "browser", "A": "browser"},
                    resources=ResourceSettings(memory="2g"),
                ),
            ],
        )
        async with start_bay(make_settings(tmp_path, profiles=[profile])) as bay:
            url = f"/v1/sandboxes/{await bay.sandbox()}/shell/exec"
            answer = await bay.client.post(url, json={"command": "true"}, headers=AUTH)
            assert answer.status_code == 200, answer.text
            spec = bay.driver.started[-1]

        assert (spec.env["A"], spec.env["B"]) == ("ship", "browser")
