"""Ship's error tree: each class carries its wire code and HTTP status."""

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from shipyard_protocol.errors import ErrorBody, ErrorCode, ErrorDetail


class ShipError(Exception):
    """An expected failure that Ship answers as an `ErrorBody`."""

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL_ERROR
    status: ClassVar[int] = 500

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def body(self) -> dict[str, Any]:
        detail = ErrorDetail(code=self.code, message=self.message, details=self.details)
        return ErrorBody(error=detail).to_json_dict()


class PathNotFoundError(ShipError):
    code = ErrorCode.FILE_NOT_FOUND
    status = 404


class InvalidPathError(ShipError):
    code = ErrorCode.INVALID_PATH
    status = 400


class InvalidFileError(ShipError):
    """A directory where a file is expected (or the reverse), or text that is not UTF-8."""

    code = ErrorCode.VALIDATION_ERROR
    status = 400


class PermissionDeniedError(ShipError):
    code = ErrorCode.FORBIDDEN
    status = 403


class QuotaExceededError(ShipError):
    code = ErrorCode.QUOTA_EXCEEDED
    status = 507


class KernelStartError(ShipError):
    code = ErrorCode.INTERNAL_ERROR
    status = 500


class NotFoundError(ShipError):
    """An execution or a background process Ship does not know (or no longer keeps)."""

    code = ErrorCode.NOT_FOUND
    status = 404


class EventsGoneError(ShipError):
    """The events asked for fell out of the bounded event log."""

    code = ErrorCode.NOT_FOUND
    status = 410


class ConflictError(ShipError):
    """An execution with this id already exists."""

    code = ErrorCode.CONFLICT
    status = 409


class InvalidCommandError(ShipError):
    """A command no process can be started with: a NUL byte, or longer than an argument."""

    code = ErrorCode.VALIDATION_ERROR
    status = 400


class InvalidSignalError(ShipError):
    code = ErrorCode.VALIDATION_ERROR
    status = 400


# Linux's MAX_ARG_STRLEN: the most one argument (here `bash -lc COMMAND`) may hold, NUL included.
MAX_ARGUMENT_BYTES = 128 * 1024


@contextmanager
def spawn_errors() -> Iterator[None]:
    """A command or environment the kernel refuses to exec is the caller's error (400)."""
    try:
        yield
    except ValueError as exc:  # subprocess: "embedded null byte"
        raise InvalidCommandError(f"cannot run the command: {exc}") from exc
    except OSError as exc:
        if exc.errno != errno.E2BIG:
            raise
        message = f"the command is too long: at most {MAX_ARGUMENT_BYTES - 1} bytes"
        raise InvalidCommandError(message, {"limit_bytes": MAX_ARGUMENT_BYTES - 1}) from exc


class InvalidPortError(ShipError):
    code = ErrorCode.VALIDATION_ERROR
    status = 400


class PortClosedError(ShipError):
    """Nothing accepted a connection on the sandbox port (or it did not answer HTTP)."""

    code = ErrorCode.SHIP_ERROR
    status = 502
