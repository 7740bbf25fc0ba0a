"""`POST /python/exec`: run code in the session's IPython kernel."""

from fastapi import APIRouter

from ship.api.deps import KernelDep
from shipyard_protocol.ship import PythonOutcome, PythonRun

router = APIRouter()


@router.post("/python/exec")
async def execute(run: PythonRun, kernel: KernelDep) -> PythonOutcome:
    return await kernel.execute(run.code, run.timeout)
