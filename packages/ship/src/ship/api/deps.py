"""Typed access to the objects the lifespan built, as FastAPI dependencies."""

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from ship.browser import Browser
from ship.executions import Executions
from ship.files import Workspace
from ship.kernel import Kernel
from ship.ports import Ports
from ship.processes import Processes
from ship.terminal import Terminals


async def _kernel(connection: HTTPConnection) -> Kernel:
    kernel: Kernel = connection.app.state.kernel
    return kernel


async def _workspace(connection: HTTPConnection) -> Workspace:
    workspace: Workspace = connection.app.state.workspace
    return workspace


async def _executions(connection: HTTPConnection) -> Executions:
    executions: Executions = connection.app.state.executions
    return executions


async def _processes(connection: HTTPConnection) -> Processes:
    processes: Processes = connection.app.state.processes
    return processes


async def _terminals(connection: HTTPConnection) -> Terminals:
    terminals: Terminals = connection.app.state.terminals
    return terminals


async def _ports(connection: HTTPConnection) -> Ports:
    ports: Ports = connection.app.state.ports
    return ports


async def _browser(connection: HTTPConnection) -> Browser:
    browser: Browser = connection.app.state.browser
    return browser


KernelDep = Annotated[Kernel, Depends(_kernel)]
WorkspaceDep = Annotated[Workspace, Depends(_workspace)]
ExecutionsDep = Annotated[Executions, Depends(_executions)]
ProcessesDep = Annotated[Processes, Depends(_processes)]
TerminalsDep = Annotated[Terminals, Depends(_terminals)]
PortsDep = Annotated[Ports, Depends(_ports)]
BrowserDep = Annotated[Browser, Depends(_browser)]
