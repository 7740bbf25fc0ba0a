"""Browser routes: one command, a batch, a skill release replayed, and stored traces."""

from fastapi import APIRouter

from bay.api.deps import Browser, BrowserSandbox, FreshBrowserSandbox
from shipyard_protocol.api import (
    BrowserBatchExec,
    BrowserBatchResult,
    BrowserExec,
    BrowserExecResult,
    BrowserTrace,
    SkillRun,
    SkillRunResult,
)

router = APIRouter(prefix="/v1/sandboxes/{sandbox_id}/browser", tags=["capabilities"])


@router.post("/exec")
async def browser_exec(
    body: BrowserExec, sandbox: BrowserSandbox, browser: Browser
) -> BrowserExecResult:
    return await browser.exec(sandbox, body)


@router.post("/exec_batch")
async def browser_exec_batch(
    body: BrowserBatchExec, sandbox: BrowserSandbox, browser: Browser
) -> BrowserBatchResult:
    return await browser.batch(sandbox, body)


@router.post("/skills/{skill_key}/run")
async def run_skill(
    skill_key: str, body: SkillRun, sandbox: BrowserSandbox, browser: Browser
) -> SkillRunResult:
    return await browser.run_skill(sandbox, skill_key, body)


@router.get("/traces/{trace_ref:path}")
async def get_trace(trace_ref: str, sandbox: FreshBrowserSandbox, browser: Browser) -> BrowserTrace:
    return await browser.trace(sandbox.owner, trace_ref)
