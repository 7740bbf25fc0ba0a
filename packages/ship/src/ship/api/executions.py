"""`/executions/*`: where an execution stands, and its events from a sequence number on."""

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from ship.api.deps import ExecutionsDep
from ship.events import NDJSON
from shipyard_protocol.ship import ExecutionState

router = APIRouter()


@router.get("/executions/{execution_id}", responses={404: {"description": "not_found"}})
async def get_state(
    execution_id: str,
    executions: ExecutionsDep,
    wait: Annotated[float, Query(ge=0, le=3600)] = 0,
) -> ExecutionState:
    execution = executions.get(execution_id)
    await execution.wait(wait)
    return execution.state()


@router.get(
    "/executions/{execution_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {"content": {NDJSON: {}}},
        404: {"description": "not_found"},
        410: {"description": "not_found: the events after `after` were dropped"},
    },
)
async def events(
    execution_id: str, executions: ExecutionsDep, after: Annotated[int, Query(ge=0)] = 0
) -> StreamingResponse:
    stream = executions.get(execution_id).log.follow(after)
    return StreamingResponse(stream, media_type=NDJSON)
