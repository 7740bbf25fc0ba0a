"""Sandbox lifecycle routes."""

from typing import Annotated

from fastapi import APIRouter, Query, Response
from shipyard_protocol.api import Sandbox, SandboxCreate, SandboxList, StatusOk

from bay.api.deps import Caller, Sandboxes

router = APIRouter(prefix="/v1/sandboxes", tags=["sandboxes"])


@router.post("", status_code=201)
async def create_sandbox(body: SandboxCreate, caller: Caller, sandboxes: Sandboxes) -> Sandbox:
    return await sandboxes.create(caller.owner, body)


@router.get("")
async def list_sandboxes(
    caller: Caller,
    sandboxes: Sandboxes,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
    status: str | None = None,
) -> SandboxList:
    return await sandboxes.page(caller.owner, limit, cursor, status)


@router.get("/{sandbox_id}")
async def get_sandbox(sandbox_id: str, caller: Caller, sandboxes: Sandboxes) -> Sandbox:
    return await sandboxes.describe(caller.owner, sandbox_id)


@router.post("/{sandbox_id}/stop")
async def stop_sandbox(sandbox_id: str, caller: Caller, sandboxes: Sandboxes) -> StatusOk:
    await sandboxes.stop(caller.owner, sandbox_id)
    return StatusOk(status="stopped")


@router.delete("/{sandbox_id}", status_code=204)
async def delete_sandbox(sandbox_id: str, caller: Caller, sandboxes: Sandboxes) -> Response:
    await sandboxes.delete(caller.owner, sandbox_id)
    return Response(status_code=204)
