"""`/python/*`: run code in the session's IPython kernel; interrupt or restart it."""

from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.responses import StreamingResponse

from ship.api.deps import ExecutionsDep, KernelDep
from ship.events import NDJSON
from shipyard_protocol.ship import KernelState, PythonOutcome, PythonRun

router = APIRouter()

_STREAM: dict[int | str, dict[str, Any]] = {
    200: {"content": {NDJSON: {}}},
    409: {"description": "conflict: execution_id in use"},
}


@router.post("/python/exec", response_model=PythonOutcome, responses=_STREAM)
async def execute(
    run: PythonRun, executions: ExecutionsDep, accept: Annotated[str, Header()] = ""
) -> PythonOutcome | StreamingResponse:
    execution = executions.start_python(run)
    if NDJSON in accept:
        return StreamingResponse(execution.log.follow(0), media_type=NDJSON)
    return await execution.result()


@router.post("/python/interrupt")
async def interrupt(kernel: KernelDep) -> KernelState:
    return await kernel.interrupt()


@router.post("/python/restart")
async def restart(kernel: KernelDep) -> KernelState:
    return await kernel.restart()
