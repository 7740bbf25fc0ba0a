"""Shipyard Neo Python SDK: `AsyncClient` and `Client` for Bay's API v1."""

from shipyard._async import AsyncClient
from shipyard._async_sandbox import AsyncSandbox
from shipyard._async_stream import AsyncExecStream
from shipyard._async_terminal import AsyncTerminal
from shipyard._requests import Retries
from shipyard._sync import Client
from shipyard._sync_sandbox import Sandbox
from shipyard._sync_stream import ExecStream
from shipyard._sync_terminal import Terminal
from shipyard._transfer import Progress, Source, Target
from shipyard.errors import (
    BayUnreachableError,
    CapabilityNotSupportedError,
    ConflictError,
    FileNotFoundInSandboxError,
    ForbiddenError,
    InternalError,
    InvalidArgumentError,
    InvalidPathError,
    InvalidRequestError,
    NotFoundError,
    QuotaExceededError,
    RequestTimeoutError,
    SandboxExpiredError,
    SandboxTTLInfiniteError,
    SessionNotReadyError,
    ShipError,
    ShipyardError,
    StreamInterruptedError,
    UnauthorizedError,
)

__all__ = [
    "AsyncClient",
    "AsyncExecStream",
    "AsyncSandbox",
    "AsyncTerminal",
    "BayUnreachableError",
    "CapabilityNotSupportedError",
    "Client",
    "ConflictError",
    "ExecStream",
    "FileNotFoundInSandboxError",
    "ForbiddenError",
    "InternalError",
    "InvalidArgumentError",
    "InvalidPathError",
    "InvalidRequestError",
    "NotFoundError",
    "Progress",
    "QuotaExceededError",
    "RequestTimeoutError",
    "Retries",
    "Sandbox",
    "SandboxExpiredError",
    "SandboxTTLInfiniteError",
    "SessionNotReadyError",
    "ShipError",
    "ShipyardError",
    "Source",
    "StreamInterruptedError",
    "Target",
    "Terminal",
    "UnauthorizedError",
]
