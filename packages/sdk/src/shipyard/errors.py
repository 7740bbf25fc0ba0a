"""SDK exceptions, one per Bay error code, built from `ErrorCode` rather than a second table."""

from typing import Any

from shipyard_protocol.errors import ErrorCode


class ShipyardError(Exception):
    """Base of every error Bay answered; `code`, `message` and `details` come from the body."""

    code: ErrorCode = ErrorCode.INTERNAL_ERROR

    def __init__(self, message: str, status: int, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.details = details or {}


class NotFoundError(ShipyardError):
    code = ErrorCode.NOT_FOUND


class UnauthorizedError(ShipyardError):
    code = ErrorCode.UNAUTHORIZED


class ValidationError(ShipyardError):
    code = ErrorCode.VALIDATION_ERROR


class FileNotFoundInSandboxError(ShipyardError):
    code = ErrorCode.FILE_NOT_FOUND


class InvalidPathError(ShipyardError):
    code = ErrorCode.INVALID_PATH


_BY_CODE: dict[ErrorCode, type[ShipyardError]] = {
    cls.code: cls
    for cls in (
        NotFoundError,
        UnauthorizedError,
        ValidationError,
        FileNotFoundInSandboxError,
        InvalidPathError,
    )
}


def error_for(code: str, message: str, status: int, details: dict[str, Any]) -> ShipyardError:
    """The exception class of a wire code; unknown codes fall back to the base class."""
    try:
        cls = _BY_CODE.get(ErrorCode(code), ShipyardError)
    except ValueError:
        cls = ShipyardError
    return cls(message, status, details)
