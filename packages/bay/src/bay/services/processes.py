"""Background processes and kernel control, through the sandbox's running Ship."""

from bay.db.models import Sandbox
from bay.errors import NotFoundError
from bay.services.paths import normalize_path
from bay.services.sessions import SessionService
from bay.services.ship_errors import mapped_ship_errors
from bay.ship_client import ShipClient
from shipyard_protocol.api import KernelControl, ProcessCreate
from shipyard_protocol.ship import ProcessInfo, ProcessList, ProcessLogs, ProcessStart

GONE = "no such process in the sandbox's current session (processes end with their session)"


class ProcessService:
    def __init__(self, sessions: SessionService, ship: ShipClient) -> None:
        self._sessions = sessions
        self._ship = ship

    async def start(self, sandbox: Sandbox, request: ProcessCreate) -> ProcessInfo:
        cwd = normalize_path(request.cwd, "cwd") if request.cwd is not None else "."
        ready = await self._sessions.ensure_running(sandbox.id)
        start = ProcessStart(command=request.command, cwd=cwd, env=request.env)
        with mapped_ship_errors():
            return await self._ship.start_process(ready.endpoint, start)

    async def listing(self, sandbox: Sandbox) -> ProcessList:
        endpoint = await self._sessions.running_endpoint(sandbox.id)
        if endpoint is None:
            return ProcessList(processes=[])
        with mapped_ship_errors():
            return await self._ship.processes(endpoint)

    async def get(self, sandbox: Sandbox, process_id: str) -> ProcessInfo:
        endpoint = await self._endpoint(sandbox)
        with mapped_ship_errors():
            return await self._ship.process(endpoint, process_id)

    async def logs(
        self, sandbox: Sandbox, process_id: str, stream: str, offset: int, limit: int
    ) -> ProcessLogs:
        endpoint = await self._endpoint(sandbox)
        with mapped_ship_errors():
            return await self._ship.process_logs(endpoint, process_id, stream, offset, limit)

    async def wait(self, sandbox: Sandbox, process_id: str, timeout: float) -> ProcessInfo:
        endpoint = await self._endpoint(sandbox)
        with mapped_ship_errors():
            return await self._ship.wait_process(endpoint, process_id, timeout)

    async def signal(self, sandbox: Sandbox, process_id: str, signal: str) -> ProcessInfo:
        endpoint = await self._endpoint(sandbox)
        with mapped_ship_errors():
            return await self._ship.signal_process(endpoint, process_id, signal)

    async def kill(self, sandbox: Sandbox, process_id: str) -> ProcessInfo:
        endpoint = await self._endpoint(sandbox)
        with mapped_ship_errors():
            return await self._ship.kill_process(endpoint, process_id)

    async def interrupt(self, sandbox: Sandbox) -> KernelControl:
        ready = await self._sessions.ensure_running(sandbox.id)
        with mapped_ship_errors():
            state = await self._ship.interrupt(ready.endpoint)
        return KernelControl(kernel_generation=state.kernel_generation, restarted=state.restarted)

    async def restart(self, sandbox: Sandbox) -> KernelControl:
        ready = await self._sessions.ensure_running(sandbox.id)
        with mapped_ship_errors():
            state = await self._ship.restart(ready.endpoint)
        return KernelControl(kernel_generation=state.kernel_generation, restarted=state.restarted)

    async def _endpoint(self, sandbox: Sandbox) -> str:
        endpoint = await self._sessions.running_endpoint(sandbox.id)
        if endpoint is None:
            raise NotFoundError(GONE)
        return endpoint
