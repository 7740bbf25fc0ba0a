"""SDK exceptions: one class per `ErrorCode`, looked up by the code Bay answered."""

from typing import Any

import httpx

from shipyard_protocol.errors import ErrorCode, code_of


class ShipyardError(Exception):
    """Base of every error Bay answered.

    `code`, `message`, `details` and `request_id` come from Bay's error body; `status` is the
    HTTP status. Network failures are not wrapped: they surface as `httpx.TransportError`
    (a connection Bay never answered as `BayUnreachableError`, which names the URL tried).
    """

    code: ErrorCode

    def __init__(
        self,
        message: str,
        status: int,
        details: dict[str, Any] | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.details = details or {}
        self.request_id = request_id

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class InternalError(ShipyardError):
    """Bay failed unexpectedly (500)."""

    code = ErrorCode.INTERNAL_ERROR


class NotFoundError(ShipyardError):
    """The sandbox, cargo, execution or key does not exist or is not yours (404)."""

    code = ErrorCode.NOT_FOUND


class UnauthorizedError(ShipyardError):
    """The API key is missing or invalid (401)."""

    code = ErrorCode.UNAUTHORIZED


class ForbiddenError(ShipyardError):
    """The key may not do this, e.g. a non-admin key on an admin route (403)."""

    code = ErrorCode.FORBIDDEN


class QuotaExceededError(ShipyardError):
    """A quota or rate limit was hit (429)."""

    code = ErrorCode.QUOTA_EXCEEDED


class SessionNotReadyError(ShipyardError):
    """The sandbox's runtime is still starting; `details["retry_after_ms"]` says when (503)."""

    code = ErrorCode.SESSION_NOT_READY


class RequestTimeoutError(ShipyardError):
    """Bay timed out talking to the sandbox runtime (504)."""

    code = ErrorCode.TIMEOUT


class ShipError(ShipyardError):
    """The sandbox runtime failed or could not be reached (502)."""

    code = ErrorCode.SHIP_ERROR


class ConflictError(ShipyardError):
    """The request conflicts with the current state, e.g. a reused idempotency key (409)."""

    code = ErrorCode.CONFLICT


class SandboxExpiredError(ShipyardError):
    """The sandbox is past its `expires_at` and refuses work (409)."""

    code = ErrorCode.SANDBOX_EXPIRED


class SandboxTTLInfiniteError(ShipyardError):
    """`extend_ttl` on a sandbox that never expires (409)."""

    code = ErrorCode.SANDBOX_TTL_INFINITE


class InvalidRequestError(ShipyardError):
    """Bay rejected the request's values (400 `validation_error`, or FastAPI's 422)."""

    code = ErrorCode.VALIDATION_ERROR


class FileNotFoundInSandboxError(ShipyardError):
    """The path does not exist in the sandbox's workspace (404)."""

    code = ErrorCode.FILE_NOT_FOUND


class CapabilityNotSupportedError(ShipyardError):
    """The sandbox's profile lacks the capability (400); `details["available"]` lists them."""

    code = ErrorCode.CAPABILITY_NOT_SUPPORTED


class InvalidPathError(ShipyardError):
    """The path is empty, absolute or escapes the workspace (400)."""

    code = ErrorCode.INVALID_PATH


class InvalidArgumentError(InvalidRequestError):
    """An argument the SDK refused before sending, e.g. a timeout past its limit (status 0:
    no request was made)."""


class BayUnreachableError(httpx.ConnectError):
    """No connection to Bay: the message names the URL tried and `SHIPYARD_ENDPOINT`."""


class StreamInterruptedError(Exception):
    """An execution's event stream stopped before its `end` event and could not be resumed.

    The execution itself may still be running: ask `sandbox.executions.status(execution_id)`.
    `execution_id` is None when the stream broke before its first event; `last_event_id` is the
    id of the last event delivered. The failure that ended the last try is the `__cause__`.
    """

    def __init__(self, message: str, execution_id: str | None, last_event_id: int) -> None:
        super().__init__(message)
        self.execution_id = execution_id
        self.last_event_id = last_event_id


_BY_CODE: dict[str, type[ShipyardError]] = {cls.code: cls for cls in ShipyardError.__subclasses__()}


def error_class(code: object, status: int) -> type[ShipyardError]:
    """The class of a wire code; an unknown or missing code (a plain-text 500, FastAPI's 422,
    a proxy's page) falls back to the code the protocol's table gives the HTTP status."""
    if isinstance(code, str) and code in _BY_CODE:
        return _BY_CODE[code]
    return _BY_CODE[code_of(status)]
