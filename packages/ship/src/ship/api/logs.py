"""`POST /logs/drain`: Ship's log lines since the last drain (Bay relays them to its log)."""

from fastapi import APIRouter
from starlette.requests import Request

from ship.log_buffer import LogBuffer
from shipyard_protocol.ship import ShipLogs

router = APIRouter()


@router.post("/logs/drain")
async def drain(request: Request) -> ShipLogs:
    buffer: LogBuffer = request.app.state.log_buffer
    return buffer.drain()
