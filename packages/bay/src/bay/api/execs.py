"""Python and shell execution routes."""

from fastapi import APIRouter

from bay.api.deps import Execs, PythonSandbox, ShellSandbox
from shipyard_protocol.api import PythonExec, PythonExecResult, ShellExec, ShellExecResult

router = APIRouter(prefix="/v1/sandboxes/{sandbox_id}", tags=["capabilities"])


@router.post("/python/exec")
async def python_exec(body: PythonExec, sandbox: PythonSandbox, execs: Execs) -> PythonExecResult:
    return await execs.python(sandbox, body)


@router.post("/shell/exec")
async def shell_exec(body: ShellExec, sandbox: ShellSandbox, execs: Execs) -> ShellExecResult:
    return await execs.shell(sandbox, body)
