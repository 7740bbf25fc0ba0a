"""Ship's error tree: each class names its wire code; the protocol's table gives the status."""

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from shipyard_protocol.errors import ErrorCode, error_body, status_of


class ShipError(Exception):
    """An expected failure that Ship answers as an `ErrorBody`."""

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

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.details)


class PathNotFoundError(ShipError):
    code = ErrorCode.FILE_NOT_FOUND


class InvalidPathError(ShipError):
    code = ErrorCode.INVALID_PATH


class InvalidFileError(ShipError):
    """A directory where a file is expected (or the reverse), or text that is not UTF-8."""

    code = ErrorCode.VALIDATION_ERROR


class PermissionDeniedError(ShipError):
    code = ErrorCode.FORBIDDEN


class QuotaExceededError(ShipError):
    code = ErrorCode.QUOTA_EXCEEDED


class KernelStartError(ShipError):
    code = ErrorCode.INTERNAL_ERROR


class NotFoundError(ShipError):
    """An execution or a background process Ship does not know (or no longer keeps)."""

    code = ErrorCode.NOT_FOUND


class EventsGoneError(ShipError):
    """The events asked for fell out of the bounded event log."""

    code = ErrorCode.NOT_FOUND
    refined_status = 410


class ConflictError(ShipError):
    """An execution with this id already exists."""

    code = ErrorCode.CONFLICT


class InvalidCommandError(ShipError):
    """A command no process can be started with: a NUL byte, or longer than an argument."""

    code = ErrorCode.VALIDATION_ERROR


class InvalidSignalError(ShipError):
    code = ErrorCode.VALIDATION_ERROR


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


class PortClosedError(ShipError):
    """Nothing accepted a connection on the sandbox port (or it did not answer HTTP)."""

    code = ErrorCode.SHIP_ERROR
