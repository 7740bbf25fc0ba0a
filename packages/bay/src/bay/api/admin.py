"""Admin routes: GC, browser learning and API keys (admin keys only)."""

from typing import Annotated

from fastapi import APIRouter, Body, Response
from starlette.requests import HTTPConnection

from bay.api.deps import Admin, Db, Gc, Keys, Learning, bay_state
from shipyard_protocol.api import (
    BrowserLearningResult,
    GcRun,
    GcRunResult,
    GcStatus,
    KeyCreate,
    KeyCreated,
    KeyList,
)

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.post("/gc/run")
async def run_gc(_: Admin, gc: Gc, body: Annotated[GcRun | None, Body()] = None) -> GcRunResult:
    return await gc.run_once(tasks=body.tasks if body else None)


@router.get("/gc/status")
async def gc_status(_: Admin, gc: Gc) -> GcStatus:
    return await gc.status()


@router.post("/browser-learning/run")
async def run_browser_learning(_: Admin, learning: Learning) -> BrowserLearningResult:
    """One pass now, whether or not passes run on a timer (`browser_learning.enabled`)."""
    return await learning.run_once()


@router.post("/keys", status_code=201)
async def create_key(body: KeyCreate, _: Admin, keys: Keys) -> KeyCreated:
    return await keys.create(body.owner, body.admin)


@router.get("/keys")
async def list_keys(_: Admin, keys: Keys) -> KeyList:
    return await keys.listing()


@router.delete("/keys/{key_id}", status_code=204)
async def revoke_key(
    key_id: str, _: Admin, keys: Keys, db: Db, request: HTTPConnection
) -> Response:
    await keys.revoke(key_id)
    # Committed before the keys this Bay remembers are forgotten: a request that reads the
    # table in between must already see the key inactive.
    await db.commit()
    bay_state(request)["recent_keys"].forget_all()
    return Response(status_code=204)
