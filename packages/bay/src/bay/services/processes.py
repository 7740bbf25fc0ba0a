"""Background processes and kernel control, through the sandbox's running Ship."""

from bay.errors import NotFoundError
from bay.services.capabilities import SandboxRef
from bay.services.paths import normalize_path
from bay.services.sessions import SessionService
from bay.ship_session import SessionShip
from shipyard_protocol.api import KernelControl, ProcessCreate
from shipyard_protocol.ship import ProcessInfo, ProcessList, ProcessLogs, ProcessStart

GONE = "no such process in the sandbox's current session (processes end with their session)"


class ProcessService:
    def __init__(self, sessions: SessionService) -> None:
        self._sessions = sessions

    async def start(self, sandbox: SandboxRef, request: ProcessCreate) -> ProcessInfo:
        cwd = normalize_path(request.cwd, "cwd") if request.cwd is not None else "."
        ready = await self._sessions.ensure_running(sandbox.id)
        start = ProcessStart(command=request.command, cwd=cwd, env=request.env)
        return await ready.ship.start_process(start)

    async def listing(self, sandbox: SandboxRef) -> ProcessList:
        ship = await self._sessions.running_ship(sandbox.id)
        if ship is None:
            return ProcessList(processes=[])
        return await ship.processes()

    async def get(self, sandbox: SandboxRef, process_id: str) -> ProcessInfo:
        return await (await self._running(sandbox)).process(process_id)

    async def logs(
        self, sandbox: SandboxRef, process_id: str, stream: str, offset: int, limit: int
    ) -> ProcessLogs:
        ship = await self._running(sandbox)
        return await ship.process_logs(process_id, stream, offset, limit)

    async def wait(self, sandbox: SandboxRef, process_id: str, timeout: float) -> ProcessInfo:
        return await (await self._running(sandbox)).wait_process(process_id, timeout)

    async def signal(self, sandbox: SandboxRef, process_id: str, signal: str) -> ProcessInfo:
        return await (await self._running(sandbox)).signal_process(process_id, signal)

    async def kill(self, sandbox: SandboxRef, process_id: str) -> ProcessInfo:
        return await (await self._running(sandbox)).kill_process(process_id)

    async def interrupt(self, sandbox: SandboxRef) -> KernelControl:
        ready = await self._sessions.ensure_running(sandbox.id)
        state = await ready.ship.interrupt()
        return KernelControl(kernel_generation=state.kernel_generation, restarted=state.restarted)

    async def restart(self, sandbox: SandboxRef) -> KernelControl:
        ready = await self._sessions.ensure_running(sandbox.id)
        state = await ready.ship.restart()
        return KernelControl(kernel_generation=state.kernel_generation, restarted=state.restarted)

    async def _running(self, sandbox: SandboxRef) -> SessionShip:
        ship = await self._sessions.running_ship(sandbox.id)
        if ship is None:
            raise NotFoundError(GONE)
        return ship
