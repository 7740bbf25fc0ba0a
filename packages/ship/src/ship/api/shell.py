"""`POST /shell/exec`: run a command with `bash -lc` inside the workspace."""

from fastapi import APIRouter

from ship.api.deps import ShellDep, WorkspaceDep
from shipyard_protocol.ship import ShellOutcome, ShellRun

router = APIRouter()


@router.post("/shell/exec", responses={400: {"description": "cwd outside the workspace"}})
async def execute(run: ShellRun, shell: ShellDep, workspace: WorkspaceDep) -> ShellOutcome:
    cwd = workspace.directory(run.cwd)
    return await shell.run(run.command, cwd, run.env, run.timeout)
