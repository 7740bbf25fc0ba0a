"""One request builder shared by the async and sync clients: requests out, models back."""

from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from shipyard.errors import ShipyardError, error_for
from shipyard_protocol.api import (
    PythonExec,
    SandboxCreate,
    ShellExec,
)

Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class Call:
    """One HTTP call, relative to the client's base URL."""

    method: str
    url: str
    json: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)


def create_sandbox(profile: str, ttl: int | None) -> Call:
    body = SandboxCreate(profile=profile, ttl=ttl).model_dump(exclude_none=True)
    return Call("POST", "/v1/sandboxes", json=body)


def get_sandbox(sandbox_id: str) -> Call:
    return Call("GET", f"/v1/sandboxes/{sandbox_id}")


def delete_sandbox(sandbox_id: str) -> Call:
    return Call("DELETE", f"/v1/sandboxes/{sandbox_id}")


def run_python(sandbox_id: str, code: str, timeout: int) -> Call:
    body = PythonExec(code=code, timeout=timeout).model_dump(exclude_none=True)
    return Call("POST", f"/v1/sandboxes/{sandbox_id}/python/exec", json=body)


def run_shell(sandbox_id: str, command: str, timeout: int) -> Call:
    body = ShellExec(command=command, timeout=timeout).model_dump(exclude_none=True)
    return Call("POST", f"/v1/sandboxes/{sandbox_id}/shell/exec", json=body)


def parse(response: httpx.Response, model: type[Model]) -> Model:
    """The model of a success, or the SDK exception of an error body."""
    raise_for_error(response)
    return model.model_validate_json(response.content)


def raise_for_error(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        error: dict[str, Any] = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        raise ShipyardError(response.text[:500], response.status_code) from None
    raise error_for(
        error.get("code", ""),
        error.get("message", ""),
        response.status_code,
        error.get("details", {}),
    )
