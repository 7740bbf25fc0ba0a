"""Execution history routes."""

from typing import Annotated

from fastapi import APIRouter, Query

from bay.api.deps import Caller, History, Sandboxes
from shipyard_protocol.api import MAX_INT64, ExecutionEntry, ExecutionList, ExecutionUpdate

router = APIRouter(prefix="/v1/sandboxes/{sandbox_id}/history", tags=["history"])

ExecType = Annotated[str | None, Query(pattern=r"^(python|shell|browser|browser_batch)$")]


@router.get("")
async def list_history(
    sandbox_id: str,
    caller: Caller,
    sandboxes: Sandboxes,
    history: History,
    exec_type: ExecType = None,
    success_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_INT64)] = 0,
    tags: str | None = None,
    has_notes: bool = False,
    has_description: bool = False,
) -> ExecutionList:
    await sandboxes.get(caller.owner, sandbox_id)
    return await history.page(
        caller.owner,
        sandbox_id,
        exec_type=exec_type,
        success_only=success_only,
        limit=limit,
        offset=offset,
        tags=tags,
        has_notes=has_notes,
        has_description=has_description,
    )


@router.get("/last")
async def last_execution(
    sandbox_id: str,
    caller: Caller,
    sandboxes: Sandboxes,
    history: History,
    exec_type: ExecType = None,
) -> ExecutionEntry:
    await sandboxes.get(caller.owner, sandbox_id)
    return await history.last(caller.owner, sandbox_id, exec_type)


@router.get("/{execution_id}")
async def get_execution(
    sandbox_id: str, execution_id: str, caller: Caller, sandboxes: Sandboxes, history: History
) -> ExecutionEntry:
    await sandboxes.get(caller.owner, sandbox_id)
    return await history.get(caller.owner, sandbox_id, execution_id)


@router.patch("/{execution_id}")
async def annotate_execution(
    sandbox_id: str,
    execution_id: str,
    body: ExecutionUpdate,
    caller: Caller,
    sandboxes: Sandboxes,
    history: History,
) -> ExecutionEntry:
    await sandboxes.get(caller.owner, sandbox_id)
    return await history.annotate(caller.owner, sandbox_id, execution_id, body)
