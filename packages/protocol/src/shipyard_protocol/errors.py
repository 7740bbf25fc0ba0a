"""Error codes and the one JSON error body used by Bay and Ship."""

from enum import StrEnum
from typing import Any

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
