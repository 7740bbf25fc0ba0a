"""`GET /health` (no auth)."""

from fastapi import APIRouter

from bay import __version__
from shipyard_protocol.api import Health

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> Health:
    return Health(status="ok", version=__version__)
