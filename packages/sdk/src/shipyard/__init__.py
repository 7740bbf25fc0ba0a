"""Shipyard Neo Python SDK: `AsyncClient` and `Client` for Bay's API v1."""

from shipyard._async import AsyncClient
from shipyard._async_sandbox import AsyncSandbox
from shipyard._requests import Retries
from shipyard._sync import Client
from shipyard._sync_sandbox import Sandbox
from shipyard._transfer import Progress, Source, Target
from shipyard.errors import (
    CapabilityNotSupportedError,
    ConflictError,
    FileNotFoundInSandboxError,
    ForbiddenError,
    InternalError,
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
    UnauthorizedError,
)

__all__ = [
    "AsyncClient",
    "AsyncSandbox",
    "CapabilityNotSupportedError",
    "Client",
    "ConflictError",
    "FileNotFoundInSandboxError",
    "ForbiddenError",
    "InternalError",
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
    "Target",
    "UnauthorizedError",
]
