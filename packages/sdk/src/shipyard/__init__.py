"""Shipyard Neo Python SDK: `AsyncClient` and `Client` for Bay."""

from shipyard._client import AsyncClient, Client
from shipyard.errors import (
    FileNotFoundInSandboxError,
    InvalidPathError,
    NotFoundError,
    ShipyardError,
    UnauthorizedError,
    ValidationError,
)

__all__ = [
    "AsyncClient",
    "Client",
    "FileNotFoundInSandboxError",
    "InvalidPathError",
    "NotFoundError",
    "ShipyardError",
    "UnauthorizedError",
    "ValidationError",
]
