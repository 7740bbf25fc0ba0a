"""Typed access to the objects the lifespan built, as FastAPI dependencies."""

from typing import Annotated

from fastapi import Depends, Request

from ship.files import Workspace
from ship.kernel import Kernel
from ship.shell import Shell


def _kernel(request: Request) -> Kernel:
    kernel: Kernel = request.app.state.kernel
    return kernel


def _shell(request: Request) -> Shell:
    shell: Shell = request.app.state.shell
    return shell


def _workspace(request: Request) -> Workspace:
    workspace: Workspace = request.app.state.workspace
    return workspace


KernelDep = Annotated[Kernel, Depends(_kernel)]
ShellDep = Annotated[Shell, Depends(_shell)]
WorkspaceDep = Annotated[Workspace, Depends(_workspace)]
