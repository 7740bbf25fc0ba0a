"""`/docs` and `/redoc` work without internet: every asset they load comes from Bay."""

import re

import pytest

from tests.unit.bay.conftest import Bay

ASSET = re.compile(r"""(?:src|href|url)\s*[=:(]\s*['"]([^'"]+)['"]""")


@pytest.mark.parametrize(
    ("page", "script"),
    [
        ("/docs", "/docs/assets/swagger-ui-bundle.js"),
        ("/redoc", "/docs/assets/redoc.standalone.js"),
    ],
)
async def test_page_loads_only_assets_bay_serves(bay: Bay, page: str, script: str) -> None:
    response = await bay.client.get(page)
    assert response.status_code == 200
    html = response.text
    assert "//" not in html.replace("http://www.w3.org", ""), "a URL off this Bay"
    assets = ASSET.findall(html)
    assert "/openapi.json" in assets
    assert [a for a in assets if a.endswith(".js")] == [script]
    for asset in assets:
        fetched = await bay.client.get(asset)
        assert fetched.status_code == 200, asset
        assert len(fetched.content) > 1000, asset


async def test_the_assets_need_no_api_key(bay: Bay) -> None:
    response = await bay.client.get("/docs/assets/swagger-ui.css")
    assert (response.status_code, response.headers["content-type"]) == (
        200,
        "text/css; charset=utf-8",
    )
