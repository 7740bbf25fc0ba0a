"""Background processes and kernel control routes."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from bay.api.deps import Processes, PythonSandbox, ShellSandbox
from shipyard_protocol.api import MAX_INT64, KernelControl, ProcessCreate, ProcessSignalRequest
from shipyard_protocol.ship import ProcessInfo, ProcessList, ProcessLogs

router = APIRouter(prefix="/v1/sandboxes/{sandbox_id}", tags=["processes"])


@router.post("/processes", status_code=201)
async def start_process(
    body: ProcessCreate, sandbox: ShellSandbox, processes: Processes
) -> ProcessInfo:
    return await processes.start(sandbox, body)


@router.get("/processes")
async def list_processes(sandbox: ShellSandbox, processes: Processes) -> ProcessList:
    return await processes.listing(sandbox)


@router.get("/processes/{process_id}")
async def get_process(process_id: str, sandbox: ShellSandbox, processes: Processes) -> ProcessInfo:
    return await processes.get(sandbox, process_id)


@router.get("/processes/{process_id}/logs")
async def process_logs(
    process_id: str,
    sandbox: ShellSandbox,
    processes: Processes,
    stream: Literal["stdout", "stderr"] = "stdout",
    offset: Annotated[int, Query(ge=0, le=MAX_INT64)] = 0,
    limit: Annotated[int, Query(ge=1, le=8 * 1024 * 1024)] = 1024 * 1024,
) -> ProcessLogs:
    return await processes.logs(sandbox, process_id, stream, offset, limit)


@router.post("/processes/{process_id}/wait")
async def wait_process(
    process_id: str,
    sandbox: ShellSandbox,
    processes: Processes,
    timeout: Annotated[float, Query(gt=0, le=300)] = 30,
) -> ProcessInfo:
    return await processes.wait(sandbox, process_id, timeout)


@router.post("/processes/{process_id}/signal")
async def signal_process(
    process_id: str, body: ProcessSignalRequest, sandbox: ShellSandbox, processes: Processes
) -> ProcessInfo:
    return await processes.signal(sandbox, process_id, body.signal)


@router.delete("/processes/{process_id}")
async def kill_process(process_id: str, sandbox: ShellSandbox, processes: Processes) -> ProcessInfo:
    return await processes.kill(sandbox, process_id)


@router.post("/python/interrupt")
async def interrupt_kernel(sandbox: PythonSandbox, processes: Processes) -> KernelControl:
    return await processes.interrupt(sandbox)


@router.post("/python/restart")
async def restart_kernel(sandbox: PythonSandbox, processes: Processes) -> KernelControl:
    return await processes.restart(sandbox)
