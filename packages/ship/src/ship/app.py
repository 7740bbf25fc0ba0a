"""Ship's FastAPI app: `create_app(config)`, the lifespan that owns what runs, errors, and
the server that says when it listens."""

import logging
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from types import ModuleType

import uvicorn
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ship.api import (
    activity,
    browser,
    executions,
    files,
    health,
    logs,
    ports,
    processes,
    python,
    shell,
    terminal,
)
from ship.auth import TokenGate
from ship.bay_lease import BayLease, LeaseRenewer
from ship.browser import Browser
from ship.config import ShipConfig
from ship.errors import KernelStartError, ShipError
from ship.events import LogBounds
from ship.executions import Executions
from ship.files import Workspace
from ship.kernel import Kernel, kernel_for
from ship.log_buffer import LogBuffer
from ship.ports import SHIP_ERROR_HEADER, Ports
from ship.processes import Processes
from ship.shell import Shell
from ship.terminal import Terminals
from shipyard_protocol.errors import ErrorCode, code_of, error_body, status_of

logger = logging.getLogger(__name__)
_VERSION = version("shipyard-ship")


class ReadyServer(uvicorn.Server):
    """A uvicorn server that reports (on a descriptor, in a file) once its socket listens."""

    def __init__(self, config: uvicorn.Config, ship: ShipConfig) -> None:
        super().__init__(config)
        self._ready_fd = ship.ready_fd
        self._ready_file = ship.ready_file
        self._quiet_after_ready = ship.quiet_after_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self._quiet_after_ready:
            _silence_stdio()
        if self.started and self._ready_fd is not None:
            with os.fdopen(self._ready_fd, "wb", buffering=0) as ready:
                ready.write(b"ready\n")
            self._ready_fd = None
        if self.started and self._ready_file is not None:
            self._ready_file.write_bytes(b"ready\n")
            self._ready_file = None


def _silence_stdio() -> None:
    """Point stdout and stderr at /dev/null: the pipe behind them closes once Bay saw `ready`."""
    sys.stdout.flush()
    sys.stderr.flush()
    null = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        os.dup2(null, fd)
    os.close(null)


def create_app(
    config: ShipConfig,
    kernel: Kernel | None = None,
    lease: BayLease | None = None,
    log_buffer: LogBuffer | None = None,
) -> FastAPI:
    """Ship's app; `kernel` is one `__main__` already launched, else one is made here; Bay's
    requests renew `lease` and drain `log_buffer` (the process's log records)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        python = kernel or kernel_for(config)
        shell_ = _shell(config)
        state = app.state
        state.kernel, state.workspace = python, Workspace(config.workspace)
        state.executions = Executions(
            python, shell_, _bounds(config), config.executions_kept, config.executions_kept_bytes
        )
        state.processes, state.terminals = Processes(), Terminals(config.workspace)
        browser_ = Browser(_shell(config), config.workspace, config.sandbox_id)
        state.browser = browser_
        state.ports = Ports(own_port=None if config.socket else config.port)
        if config.prestart_kernel:
            await _prestart(python)
        if config.prestart_browser:
            await browser_.prestart()
        logger.info(
            "ship %s serving (kernel prestarted: %s, browser: %s)",
            _VERSION,
            config.prestart_kernel,
            config.prestart_browser,
        )
        try:
            yield
        finally:
            await state.executions.shutdown()
            shell_.shutdown()
            await browser_.shutdown()
            await state.processes.shutdown()
            await state.terminals.shutdown()
            await python.shutdown()

    app = FastAPI(title="Ship", version=_VERSION, lifespan=lifespan)
    routers = _routers(config)
    for module in routers:
        # Routes built once at import, not rebuilt per app by `include_router` (see Bay's app).
        app.router.routes.extend(module.router.routes)
    app.state.log_buffer = log_buffer or LogBuffer()
    app.add_exception_handler(ShipError, _ship_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
    if lease is not None:
        app.add_middleware(LeaseRenewer, lease=lease, digest=config.token_sha256)
    if config.token_sha256 is not None:
        app.add_middleware(TokenGate, digest=config.token_sha256)
    return app


def _routers(config: ShipConfig) -> tuple[ModuleType, ...]:
    """A browser sidecar's Ship serves the browser only; every other Ship serves everything."""
    if config.browser_only:
        return (health, activity, logs, browser)
    everything = (health, python, shell, executions, processes, terminal, activity, files, ports)
    return (*everything, logs, browser)


def _shell(config: ShipConfig) -> Shell:
    return Shell(config.output_limit, config.pipe_grace)


async def _prestart(kernel: Kernel) -> None:
    try:
        await kernel.start()
    except KernelStartError as exc:
        logger.warning("the kernel did not prestart; it starts on first use: %s", exc)


def _bounds(config: ShipConfig) -> LogBounds:
    return LogBounds(config.event_log_bytes, config.event_log_events, config.follower_stall)


async def _ship_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ShipError)  # noqa: S101 - registered for ShipError only
    # Marked, so Bay tells Ship's refusal of a port relay from the user's server's own answer.
    headers = {SHIP_ERROR_HEADER.decode(): exc.code.value}
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for it only
    errors = jsonable_encoder(exc.errors())
    body = error_body(ErrorCode.VALIDATION_ERROR, "the request is not valid", {"errors": errors})
    return JSONResponse(body, status_code=422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)  # noqa: S101 - registered for it only
    body = error_body(code_of(exc.status_code), str(exc.detail))
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    crash = ErrorCode.INTERNAL_ERROR
    body = error_body(crash, "internal error in ship")
    return JSONResponse(body, status_code=status_of(crash))
