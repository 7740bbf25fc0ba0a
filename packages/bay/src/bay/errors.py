"""Bay's domain errors: each names its wire code; the protocol's table gives the status."""

from typing import Any, ClassVar

from shipyard_protocol.errors import ErrorCode, status_of


class BayError(Exception):
    """Base of every error Bay answers with the JSON error body."""

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL_ERROR
    # One of the protocol's REFINED_STATUSES for this code, or None for the code's own status.
    refined_status: ClassVar[int | None] = None

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    @property
    def status(self) -> int:
        return self.refined_status or status_of(self.code)


class NotFoundError(BayError):
    code = ErrorCode.NOT_FOUND


class UnauthorizedError(BayError):
    code = ErrorCode.UNAUTHORIZED


class ForbiddenError(BayError):
    code = ErrorCode.FORBIDDEN


class QuotaExceededError(BayError):
    code = ErrorCode.QUOTA_EXCEEDED


class SessionNotReadyError(BayError):
    code = ErrorCode.SESSION_NOT_READY


class GcBusyError(BayError):
    """423: a GC cycle is already running on this replica."""

    code = ErrorCode.CONFLICT
    refined_status = 423


class ShipTimeoutError(BayError):
    code = ErrorCode.TIMEOUT


class ShipError(BayError):
    code = ErrorCode.SHIP_ERROR


class ConflictError(BayError):
    code = ErrorCode.CONFLICT


class SandboxExpiredError(BayError):
    code = ErrorCode.SANDBOX_EXPIRED


class SandboxTTLInfiniteError(BayError):
    code = ErrorCode.SANDBOX_TTL_INFINITE


class InvalidRequestError(BayError):
    """400 `validation_error`: a request that parsed but breaks a rule."""

    code = ErrorCode.VALIDATION_ERROR


class PayloadTooLargeError(BayError):
    """413: a body or a field past a configured limit, which `details` names."""

    code = ErrorCode.VALIDATION_ERROR
    refined_status = 413


class FileNotFoundInCargoError(BayError):
    code = ErrorCode.FILE_NOT_FOUND


class CapabilityNotSupportedError(BayError):
    code = ErrorCode.CAPABILITY_NOT_SUPPORTED


class InvalidPathError(BayError):
    code = ErrorCode.INVALID_PATH


ERRORS_BY_CODE: dict[ErrorCode, type[BayError]] = {
    cls.code: cls
    for cls in (
        NotFoundError,
        QuotaExceededError,
        InvalidRequestError,
        FileNotFoundInCargoError,
        InvalidPathError,
    )
}
