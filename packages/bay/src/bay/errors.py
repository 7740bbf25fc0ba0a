"""Bay's domain errors; each declares its wire code and HTTP status."""

from typing import Any, ClassVar

from shipyard_protocol.errors import ErrorCode


class BayError(Exception):
    """Base of every error Bay answers with the JSON error body."""

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL_ERROR
    status: ClassVar[int] = 500

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class NotFoundError(BayError):
    code = ErrorCode.NOT_FOUND
    status = 404


class UnauthorizedError(BayError):
    code = ErrorCode.UNAUTHORIZED
    status = 401


class ForbiddenError(BayError):
    code = ErrorCode.FORBIDDEN
    status = 403


class QuotaExceededError(BayError):
    code = ErrorCode.QUOTA_EXCEEDED
    status = 429


class SessionNotReadyError(BayError):
    code = ErrorCode.SESSION_NOT_READY
    status = 503


class GcBusyError(BayError):
    """423: a GC cycle is already running on this replica."""

    code = ErrorCode.CONFLICT
    status = 423


class ShipTimeoutError(BayError):
    code = ErrorCode.TIMEOUT
    status = 504


class ShipError(BayError):
    code = ErrorCode.SHIP_ERROR
    status = 502


class ConflictError(BayError):
    code = ErrorCode.CONFLICT
    status = 409


class SandboxExpiredError(BayError):
    code = ErrorCode.SANDBOX_EXPIRED
    status = 409


class SandboxTTLInfiniteError(BayError):
    code = ErrorCode.SANDBOX_TTL_INFINITE
    status = 409


class InvalidRequestError(BayError):
    """400 `validation_error`: a request that parsed but breaks a rule."""

    code = ErrorCode.VALIDATION_ERROR
    status = 400


class PayloadTooLargeError(BayError):
    """413: a body or a field past a configured limit, which `details` names."""

    code = ErrorCode.VALIDATION_ERROR
    status = 413


class FileNotFoundInCargoError(BayError):
    code = ErrorCode.FILE_NOT_FOUND
    status = 404


class CapabilityNotSupportedError(BayError):
    code = ErrorCode.CAPABILITY_NOT_SUPPORTED
    status = 400


class InvalidPathError(BayError):
    code = ErrorCode.INVALID_PATH
    status = 400


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
