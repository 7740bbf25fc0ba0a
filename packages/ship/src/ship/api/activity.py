"""`GET /activity`: what keeps the session busy (idle reclaim reads it)."""

from fastapi import APIRouter

from ship.api.deps import BrowserDep, ExecutionsDep, PortsDep, ProcessesDep, TerminalsDep
from shipyard_protocol.ship import Activity

router = APIRouter()


@router.get("/activity")
async def activity(
    executions: ExecutionsDep,
    processes: ProcessesDep,
    terminals: TerminalsDep,
    ports: PortsDep,
    browser: BrowserDep,
) -> Activity:
    return Activity(
        # A browser command in flight is an execution too (Bay records it as one).
        running_executions=executions.running() + browser.running,
        running_processes=processes.running(),
        open_terminals=terminals.count,
        open_ports=ports.count,
    )
