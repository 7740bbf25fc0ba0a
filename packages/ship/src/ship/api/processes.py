"""`/processes`: background commands, their logs by offset, waiting, signals."""

from typing import Annotated

from fastapi import APIRouter, Query

from ship.api.deps import ProcessesDep, WorkspaceDep
from ship.processes import Stream
from shipyard_protocol.ship import (
    DEFAULT_OUTPUT_LIMIT,
    ProcessInfo,
    ProcessList,
    ProcessLogs,
    ProcessSignal,
    ProcessStart,
)

router = APIRouter()

_NOT_FOUND: dict[int | str, dict[str, str]] = {404: {"description": "not_found"}}


@router.post("/processes", responses={400: {"description": "cwd outside the workspace"}})
async def start(
    body: ProcessStart, processes: ProcessesDep, workspace: WorkspaceDep
) -> ProcessInfo:
    return await processes.start(body.command, workspace.directory(body.cwd), body.env)


@router.get("/processes")
async def listing(processes: ProcessesDep) -> ProcessList:
    return processes.listing()


@router.get("/processes/{process_id}", responses=_NOT_FOUND)
async def get(process_id: str, processes: ProcessesDep) -> ProcessInfo:
    return processes.get(process_id)


@router.get("/processes/{process_id}/logs", responses=_NOT_FOUND)
async def logs(
    process_id: str,
    processes: ProcessesDep,
    stream: Stream = "stdout",
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=16 * DEFAULT_OUTPUT_LIMIT)] = DEFAULT_OUTPUT_LIMIT,
) -> ProcessLogs:
    return processes.logs(process_id, stream, offset, limit)


@router.post("/processes/{process_id}/wait", responses=_NOT_FOUND)
async def wait(
    process_id: str,
    processes: ProcessesDep,
    timeout: Annotated[float, Query(ge=0, le=3600)] = 30,
) -> ProcessInfo:
    return await processes.wait(process_id, timeout)


@router.post("/processes/{process_id}/signal", responses=_NOT_FOUND)
async def send_signal(process_id: str, body: ProcessSignal, processes: ProcessesDep) -> ProcessInfo:
    return processes.signal(process_id, body.signal)


@router.delete("/processes/{process_id}", responses=_NOT_FOUND)
async def delete(process_id: str, processes: ProcessesDep) -> ProcessInfo:
    return await processes.delete(process_id)
