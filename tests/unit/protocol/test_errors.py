"""The one error table: each code's HTTP status, the statuses refined from them, the body;
and Bay's and Ship's errors answer what it says."""

import pytest

from bay import errors as bay_errors
from ship import errors as ship_errors
from shipyard_protocol.errors import (
    REFINED_STATUSES,
    STATUS_BY_CODE,
    ErrorCode,
    code_of,
    error_body,
    status_of,
)

# bay-api-v1 §1.13, written out again: the table may not drift from the contract unseen.
CONTRACT = {
    "internal_error": 500,
    "not_found": 404,
    "unauthorized": 401,
    "forbidden": 403,
    "quota_exceeded": 429,
    "session_not_ready": 503,
    "timeout": 504,
    "ship_error": 502,
    "conflict": 409,
    "sandbox_expired": 409,
    "sandbox_ttl_infinite": 409,
    "validation_error": 400,
    "file_not_found": 404,
    "capability_not_supported": 400,
    "invalid_path": 400,
}


class TestStatuses:
    def test_every_code_has_the_contracts_status(self) -> None:
        assert {code.value: status_of(code) for code in ErrorCode} == CONTRACT
        assert set(STATUS_BY_CODE) == set(ErrorCode)

    def test_a_refined_status_is_no_codes_own(self) -> None:
        """Else an answer without a code would have two readings."""
        assert not set(REFINED_STATUSES) & set(STATUS_BY_CODE.values())


ERRORS = [
    value
    for module in (bay_errors, ship_errors)
    for value in vars(module).values()
    if isinstance(value, type) and issubclass(value, (bay_errors.BayError, ship_errors.ShipError))
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda error: f"{error.__module__}.{error.__name__}")
def test_every_bay_and_ship_error_answers_its_codes_status_or_a_refinement_of_it(
    error: type[bay_errors.BayError | ship_errors.ShipError],
) -> None:
    status = error("x").status
    if error.refined_status is None:
        assert status == status_of(error.code)
    else:
        assert REFINED_STATUSES[status] == error.code


class TestCodeOfStatus:
    @pytest.mark.parametrize(
        ("status", "code"),
        [
            (400, ErrorCode.VALIDATION_ERROR),
            (404, ErrorCode.NOT_FOUND),
            (409, ErrorCode.CONFLICT),
            (413, ErrorCode.VALIDATION_ERROR),
            (422, ErrorCode.VALIDATION_ERROR),
            (423, ErrorCode.CONFLICT),
            (429, ErrorCode.QUOTA_EXCEEDED),
            (500, ErrorCode.INTERNAL_ERROR),
            (503, ErrorCode.SESSION_NOT_READY),
            (418, ErrorCode.VALIDATION_ERROR),
            (507, ErrorCode.INTERNAL_ERROR),
        ],
    )
    def test_a_status_stands_for_its_most_general_code(self, status: int, code: ErrorCode) -> None:
        assert code_of(status) == code

    @pytest.mark.parametrize("code", list(ErrorCode))
    def test_the_code_a_status_stands_for_answers_that_status(self, code: ErrorCode) -> None:
        assert status_of(code_of(status_of(code))) == status_of(code)


class TestBody:
    def test_empty_details_and_unknown_request_id_are_left_out(self) -> None:
        assert error_body(ErrorCode.NOT_FOUND, "gone") == {
            "error": {"code": "not_found", "message": "gone"}
        }

    def test_details_and_request_id_when_given(self) -> None:
        body = error_body(ErrorCode.INVALID_PATH, "bad", {"field": "path"}, "req-1")
        assert body == {
            "error": {
                "code": "invalid_path",
                "message": "bad",
                "request_id": "req-1",
                "details": {"field": "path"},
            }
        }
