"""Error codes, their HTTP statuses and the one JSON error body used by Bay and Ship."""

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

from pydantic import BaseModel, Field


class ErrorCode(StrEnum):
    """Stable machine-readable error codes (bay-api-v1 §1.13), driver-agnostic."""

    INTERNAL_ERROR = "internal_error"
    NOT_FOUND = "not_found"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    QUOTA_EXCEEDED = "quota_exceeded"
    SESSION_NOT_READY = "session_not_ready"
    TIMEOUT = "timeout"
    SHIP_ERROR = "ship_error"
    CONFLICT = "conflict"
    SANDBOX_EXPIRED = "sandbox_expired"
    SANDBOX_TTL_INFINITE = "sandbox_ttl_infinite"
    VALIDATION_ERROR = "validation_error"
    FILE_NOT_FOUND = "file_not_found"
    CAPABILITY_NOT_SUPPORTED = "capability_not_supported"
    INVALID_PATH = "invalid_path"


STATUS_BY_CODE: Final[Mapping[ErrorCode, int]] = MappingProxyType(
    {
        # Listed general first: where several codes share a status, the first stands for an
        # answer that carries no code (see `code_of`).
        ErrorCode.INTERNAL_ERROR: 500,
        ErrorCode.NOT_FOUND: 404,
        ErrorCode.UNAUTHORIZED: 401,
        ErrorCode.FORBIDDEN: 403,
        ErrorCode.QUOTA_EXCEEDED: 429,
        ErrorCode.SESSION_NOT_READY: 503,
        ErrorCode.TIMEOUT: 504,
        ErrorCode.SHIP_ERROR: 502,
        ErrorCode.CONFLICT: 409,
        ErrorCode.SANDBOX_EXPIRED: 409,
        ErrorCode.SANDBOX_TTL_INFINITE: 409,
        ErrorCode.VALIDATION_ERROR: 400,
        ErrorCode.FILE_NOT_FOUND: 404,
        ErrorCode.CAPABILITY_NOT_SUPPORTED: 400,
        ErrorCode.INVALID_PATH: 400,
    }
)
"""The HTTP status of each code (bay-api-v1 §1.13): Bay, Ship and the SDK read it here."""

REFINED_STATUSES: Final[Mapping[int, ErrorCode]] = MappingProxyType(
    {
        405: ErrorCode.VALIDATION_ERROR,  # no such method on the route
        410: ErrorCode.NOT_FOUND,  # Ship: events that fell out of the bounded event log
        413: ErrorCode.VALIDATION_ERROR,  # a body or field past a configured limit
        422: ErrorCode.VALIDATION_ERROR,  # a schema violation (FastAPI's own)
        423: ErrorCode.CONFLICT,  # admin: a GC cycle is already running (bay-api-v1 §1.12)
    }
)
"""Statuses more precise than a code's own, each kept to the one code a client catches for it.

An error answers its code's status unless it is one of these conditions.
"""


def status_of(code: ErrorCode) -> int:
    """The HTTP status an error with `code` answers."""
    return STATUS_BY_CODE[code]


def code_of(status: int) -> ErrorCode:
    """The code an error answer without one stands for (a proxy's page, a plain-text 500).

    A status shared by several codes gives the most general of them; a status the table does
    not name gives `validation_error` below 500 and `internal_error` from 500 up.
    """
    if status in REFINED_STATUSES:
        return REFINED_STATUSES[status]
    for code, code_status in STATUS_BY_CODE.items():
        if code_status == status:
            return code
    return ErrorCode.VALIDATION_ERROR if status < 500 else ErrorCode.INTERNAL_ERROR


class ErrorDetail(BaseModel):
    """The inside of an error body; `details` is left out when empty."""

    code: ErrorCode
    message: str
    request_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorBody(BaseModel):
    """`{"error": {...}}`: every error Bay or Ship answers has this shape."""

    error: ErrorDetail

    def to_json_dict(self) -> dict[str, Any]:
        """The wire form: `details` only when non-empty, `request_id` only when known."""
        inner = self.error.model_dump(mode="json", exclude_none=True)
        if not inner.get("details"):
            inner.pop("details", None)
        return {"error": inner}


def error_body(
    code: ErrorCode,
    message: str,
    details: Mapping[str, Any] | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The wire form of one error: `{"error": {"code", "message", "request_id"?, "details"?}}`."""
    detail = ErrorDetail(
        code=code, message=message, request_id=request_id, details=dict(details or {})
    )
    return ErrorBody(error=detail).to_json_dict()
