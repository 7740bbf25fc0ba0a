"""Sandbox lifecycle routes."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from bay.api.deps import Caller, Idempotency, IdempotencyKeyHeader, Sandboxes
from shipyard_protocol.api import (
    Sandbox,
    SandboxCreate,
    SandboxList,
    SandboxStatus,
    StatusOk,
    TTLExtend,
)

router = APIRouter(prefix="/v1/sandboxes", tags=["sandboxes"])

JSON = "application/json"
METADATA_PREFIX = "metadata."


@router.post("", status_code=201, response_model=Sandbox)
async def create_sandbox(
    body: SandboxCreate,
    caller: Caller,
    sandboxes: Sandboxes,
    idempotency: Idempotency,
    key: IdempotencyKeyHeader = None,
) -> Response:
    answer = await idempotency.run(
        caller.owner,
        key,
        "POST:/v1/sandboxes",
        body,
        201,
        lambda: sandboxes.create(caller.owner, body),
    )
    return Response(answer.body, status_code=answer.status, media_type=JSON)


@router.get("")
async def list_sandboxes(
    request: Request,
    caller: Caller,
    sandboxes: Sandboxes,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
    status: SandboxStatus | None = None,
) -> SandboxList:
    """`?metadata.KEY=VALUE` (any number) keeps the sandboxes whose metadata has them all."""
    labels = {
        key.removeprefix(METADATA_PREFIX): value
        for key, value in request.query_params.items()
        if key.startswith(METADATA_PREFIX)
    }
    return await sandboxes.page(caller.owner, limit, cursor, status, labels)


@router.get("/{sandbox_id}")
async def get_sandbox(sandbox_id: str, caller: Caller, sandboxes: Sandboxes) -> Sandbox:
    return await sandboxes.describe(caller.owner, sandbox_id)


@router.post("/{sandbox_id}/extend_ttl", response_model=Sandbox)
async def extend_ttl(
    sandbox_id: str,
    body: TTLExtend,
    caller: Caller,
    sandboxes: Sandboxes,
    idempotency: Idempotency,
    key: IdempotencyKeyHeader = None,
) -> Response:
    answer = await idempotency.run(
        caller.owner,
        key,
        f"POST:/v1/sandboxes/{sandbox_id}/extend_ttl",
        body,
        200,
        lambda: sandboxes.extend_ttl(caller.owner, sandbox_id, body.extend_by),
    )
    return Response(answer.body, status_code=answer.status, media_type=JSON)


@router.post("/{sandbox_id}/keepalive")
async def keepalive(sandbox_id: str, caller: Caller, sandboxes: Sandboxes) -> StatusOk:
    await sandboxes.keepalive(caller.owner, sandbox_id)
    return StatusOk()


@router.post("/{sandbox_id}/stop")
async def stop_sandbox(sandbox_id: str, caller: Caller, sandboxes: Sandboxes) -> StatusOk:
    await sandboxes.stop(caller.owner, sandbox_id)
    return StatusOk(status="stopped")


@router.delete("/{sandbox_id}", status_code=204)
async def delete_sandbox(sandbox_id: str, caller: Caller, sandboxes: Sandboxes) -> Response:
    await sandboxes.delete(caller.owner, sandbox_id)
    return Response(status_code=204)
