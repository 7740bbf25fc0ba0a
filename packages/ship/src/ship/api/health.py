"""`GET /health`: Ship serves requests."""

from fastapi import APIRouter, Request

from ship.api.deps import BrowserDep, KernelDep
from shipyard_protocol.ship import ShipHealth

router = APIRouter()


@router.get("/health")
async def health(request: Request, kernel: KernelDep, browser: BrowserDep) -> ShipHealth:
    version: str = request.app.version
    return ShipHealth(
        version=version, kernel_generation=kernel.generation, browser=browser.available
    )
