"""Every error Ship answers is an ErrorBody, with the protocol's status for its code."""

import httpx
import pytest

from ship.app import create_app
from ship.config import ShipConfig
from shipyard_protocol.errors import ErrorCode, status_of


@pytest.mark.usefixtures("full_disk")
async def test_a_full_disk_is_quota_exceeded_with_the_tables_status(
    client: httpx.AsyncClient,
) -> None:
    response = await client.put("/files", json={"path": "a.txt", "content": "x"})
    assert response.status_code == status_of(ErrorCode.QUOTA_EXCEEDED)
    assert response.json()["error"]["code"] == "quota_exceeded"


async def test_a_wrong_method_is_405_validation_error(client: httpx.AsyncClient) -> None:
    response = await client.delete("/health")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "validation_error"


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
