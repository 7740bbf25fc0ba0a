"""Exception handlers: every Bay error, HTTP error and crash answers the one JSON error body."""

import logging
import math
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from bay import __version__
from bay.drivers.base import DriverError
from bay.errors import BayError, SessionNotReadyError
from shipyard_protocol.errors import ErrorCode, code_of, error_body

log = logging.getLogger(__name__)


def error_response(
    status: int,
    code: ErrorCode,
    message: str,
    request_id: str | None,
    details: Mapping[str, object] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """Every Bay error body is built here (FastAPI's 422 for a schema violation aside)."""
    body = error_body(code, message, details, request_id)
    return JSONResponse(body, status_code=status, headers=headers)


def bay_error_response(
    exc: BayError, request_id: str | None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return error_response(exc.status, exc.code, exc.message, request_id, exc.details, headers)


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


async def bay_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BayError)  # noqa: S101 - registered for BayError only
    if exc.status >= 500:
        log.warning("%s: %s", exc.code, exc.message)
    return bay_error_response(exc, _request_id(request))


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)  # noqa: S101 - registered for HTTPException only
    message = str(exc.detail)
    details: dict[str, object] = {}
    if exc.status_code == 404 and "route" not in request.scope:
        # No route matched: a feature this Bay lacks must not look like a missing sandbox.
        message = (
            f"{request.method} {request.url.path} is not a route of this Bay "
            f"(version {__version__}); GET /openapi.json lists the routes it has"
        )
        details = {"route": request.url.path, "bay_version": __version__}
    code = code_of(exc.status_code)
    request_id = _request_id(request)
    return error_response(exc.status_code, code, message, request_id, details, exc.headers)


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 body, made printable: it echoes the input, which may be NaN or hold a
    lone surrogate, and neither can be written as JSON."""
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for it only
    return JSONResponse({"detail": json_safe(jsonable_encoder(exc.errors()))}, status_code=422)


def json_safe(value: object) -> object:
    """`value` with non-finite floats as strings and lone surrogates escaped."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {json_safe(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(item) for item in value]
    return value


async def driver_error(request: Request, exc: Exception) -> JSONResponse:
    """The engine itself failed (dockerd down, bwrap gone): the session is not available."""
    log.warning("driver error: %s", exc)
    unavailable = SessionNotReadyError(f"The sandbox runtime is unavailable: {exc}")
    return bay_error_response(unavailable, _request_id(request))


def install(app: FastAPI) -> None:
    app.add_exception_handler(BayError, bay_error)
    app.add_exception_handler(DriverError, driver_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
