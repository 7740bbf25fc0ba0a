"""`GET /health` (alive) and `GET /ready` (able to serve); neither needs auth."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from bay import __version__
from bay.api.deps import BayState
from bay.services import readiness
from shipyard_protocol.api import Health, Readiness

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> Health:
    return Health(status="ok", version=__version__)


@router.get("/ready", responses={503: {"model": Readiness, "description": "a check failed"}})
async def ready(state: BayState) -> JSONResponse:
    checks = await readiness.check(state["engine"], state["driver"])
    ok = all(c.ok for c in checks.values())
    body = Readiness(status="ready" if ok else "unready", version=__version__, checks=checks)
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if ok else 503)
