"""Every error Ship answers is an ErrorBody, including validation and unexpected failures."""

import httpx

from ship.app import create_app
from ship.config import ShipConfig


async def test_invalid_request_is_422_validation_error(client: httpx.AsyncClient) -> None:
    response = await client.post("/python/exec", json={"code": "1", "timeout": -1})

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"]["errors"][0]["loc"] == ["body", "timeout"]


async def test_unknown_route_is_json_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get("/nowhere")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_unexpected_exception_is_json_500(tmp_path: object) -> None:
    app = create_app(ShipConfig(workspace=tmp_path))  # type: ignore[arg-type]

    async def explode() -> None:
        raise ValueError("boom")

    app.add_api_route("/explode", explode)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://ship") as client:
        response = await client.get("/explode")

    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "internal error in ship"}
    }
