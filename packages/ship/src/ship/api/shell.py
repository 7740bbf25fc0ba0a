"""`POST /shell/exec`: run a command with `bash -lc` inside the workspace."""

from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.responses import StreamingResponse

from ship.api.deps import ExecutionsDep, WorkspaceDep
from ship.events import NDJSON
from shipyard_protocol.ship import ShellOutcome, ShellRun

router = APIRouter()

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {NDJSON: {}}},
    400: {"description": "cwd outside the workspace"},
    409: {"description": "conflict: execution_id in use"},
}


@router.post("/shell/exec", response_model=ShellOutcome, responses=_RESPONSES)
async def execute(
    run: ShellRun,
    executions: ExecutionsDep,
    workspace: WorkspaceDep,
    accept: Annotated[str, Header()] = "",
) -> ShellOutcome | StreamingResponse:
    execution = executions.start_shell(run, workspace.directory(run.cwd))
    if NDJSON in accept:
        return StreamingResponse(execution.log.follow(0), media_type=NDJSON)
    return await execution.result()
