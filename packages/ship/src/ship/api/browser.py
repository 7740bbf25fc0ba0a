"""`POST /browser/exec` and `/browser/exec_batch`: agent-browser commands for the session."""

from typing import Any

from fastapi import APIRouter

from ship.api.deps import BrowserDep
from shipyard_protocol.ship import (
    BrowserBatch,
    BrowserBatchRun,
    BrowserClosed,
    BrowserRun,
    BrowserStep,
)

router = APIRouter()

_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "a command that cannot be split into words, or no browser here"},
}


@router.post("/browser/exec", responses=_RESPONSES)
async def execute(run: BrowserRun, browser: BrowserDep) -> BrowserStep:
    return await browser.run(run.cmd, run.timeout)


@router.post("/browser/exec_batch", responses=_RESPONSES)
async def execute_batch(batch: BrowserBatchRun, browser: BrowserDep) -> BrowserBatch:
    return await browser.run_batch(batch)


@router.post("/browser/close")
async def close(browser: BrowserDep) -> BrowserClosed:
    """Bay's call before it stops the session: the profile is written, nothing is lost."""
    return BrowserClosed(closed=await browser.close())
