"""The error model: one JSON shape, request ids everywhere, statuses from the protocol's table."""

import pytest

from bay import __version__ as bay_version
from bay import errors
from shipyard_protocol.errors import ErrorCode, status_of
from tests.unit.bay.conftest import AUTH, Bay


def test_every_code_ship_answers_that_bay_passes_on_keeps_its_status() -> None:
    for code, error in errors.ERRORS_BY_CODE.items():
        assert (error.code, error("x").status) == (code, status_of(code))


@pytest.mark.usefixtures("full_disk")
async def test_a_full_cargo_is_quota_exceeded_with_the_tables_status(bay: Bay) -> None:
    base = f"/v1/sandboxes/{await bay.sandbox()}/filesystem"
    response = await bay.client.put(
        f"{base}/files", json={"path": "a.txt", "content": "x"}, headers=AUTH
    )
    assert response.status_code == status_of(ErrorCode.QUOTA_EXCEEDED) == 429
    assert response.json()["error"]["code"] == "quota_exceeded"
    assert response.json()["error"]["details"] == {"path": "a.txt"}


async def test_request_id_is_echoed(bay: Bay) -> None:
    response = await bay.client.get("/health", headers={"X-Request-Id": "req-123"})
    assert response.headers["x-request-id"] == "req-123"


async def test_request_id_is_generated_and_in_error_bodies(bay: Bay) -> None:
    response = await bay.client.get("/v1/sandboxes/sandbox-nope", headers=AUTH)
    assert response.json()["error"]["request_id"] == response.headers["x-request-id"]
    assert "details" not in response.json()["error"]


async def test_unknown_route_answers_the_json_error_shape(bay: Bay) -> None:
    response = await bay.client.get("/v1/nothing-here", headers=AUTH)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_an_unknown_route_says_so_with_the_bays_version(bay: Bay) -> None:
    """A feature this Bay lacks (say, a newer API's) must not read as a missing sandbox."""
    sandbox_id = await bay.sandbox()
    response = await bay.client.post(
        f"/v1/sandboxes/{sandbox_id}/gadget/exec", json={}, headers=AUTH
    )
    error = response.json()["error"]
    assert response.status_code == 404
    assert error["message"].startswith(
        f"POST /v1/sandboxes/{sandbox_id}/gadget/exec is not a route of this Bay (version "
    )
    assert error["details"]["bay_version"] == bay_version
    missing = await bay.client.get("/v1/sandboxes/sandbox-nope", headers=AUTH)
    assert "not a route" not in missing.json()["error"]["message"]


async def test_schema_violation_keeps_fastapi_422_shape(bay: Bay) -> None:
    response = await bay.client.post(
        f"/v1/sandboxes/{await bay.sandbox()}/python/exec", json={}, headers=AUTH
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "code"]


async def test_unexpected_crash_is_a_json_500_with_request_id(bay: Bay) -> None:
    async def explode() -> None:
        raise RuntimeError("boom")

    bay.app.add_api_route("/explode", explode)
    response = await bay.client.get("/explode", headers={"X-Request-Id": "req-500"})
    assert response.status_code == 500
    assert response.json() == {
        "error": {
            "code": "internal_error",
            "message": "Internal server error",
            "request_id": "req-500",
        }
    }
    assert response.headers["x-request-id"] == "req-500"


async def test_a_wrong_method_is_405_validation_error_with_request_id(bay: Bay) -> None:
    response = await bay.client.delete("/health", headers={"X-Request-Id": "req-405"})
    error = response.json()["error"]
    assert (response.status_code, error["code"], error["request_id"]) == (
        405,
        "validation_error",
        "req-405",
    )
    assert response.headers["allow"] == "GET"


async def test_a_refusal_before_the_app_has_the_same_shape(bay: Bay) -> None:
    """The auth gate answers before any route, through the same renderer."""
    response = await bay.client.get("/v1/sandboxes", headers={"X-Request-Id": "req-401"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.json()["error"]["request_id"] == "req-401"
    assert response.headers["x-request-id"] == "req-401"
