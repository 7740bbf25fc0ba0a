"""Python and shell execution routes: JSON by default, Server-Sent Events on request."""

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response

from bay.api.deps import Caller, Execs, PythonSandbox, Sandboxes, ShellSandbox, Streams
from bay.api.sse import EVENT_STREAM, sse_response, wants_events
from shipyard_protocol.api import (
    MAX_INT64,
    ExecutionStatus,
    PythonExec,
    PythonExecResult,
    ShellExec,
    ShellExecResult,
)

router = APIRouter(prefix="/v1/sandboxes/{sandbox_id}", tags=["capabilities"])

Accept = Annotated[str | None, Header()]
STREAMED: dict[int | str, dict[str, Any]] = {
    200: {"content": {EVENT_STREAM: {}}, "description": "JSON, or SSE when asked"}
}


@router.post("/python/exec", response_model=PythonExecResult, responses=STREAMED)
async def python_exec(
    body: PythonExec, sandbox: PythonSandbox, execs: Execs, streams: Streams, accept: Accept = None
) -> Response | PythonExecResult:
    if wants_events(accept):
        return sse_response(await streams.start(sandbox, body))
    return await execs.python(sandbox, body)


@router.post("/shell/exec", response_model=ShellExecResult, responses=STREAMED)
async def shell_exec(
    body: ShellExec, sandbox: ShellSandbox, execs: Execs, streams: Streams, accept: Accept = None
) -> Response | ShellExecResult:
    if wants_events(accept):
        return sse_response(await streams.start(sandbox, body))
    return await execs.shell(sandbox, body)


@router.get(
    "/executions/{execution_id}/events",
    response_class=Response,
    responses={200: {"content": {EVENT_STREAM: {}}}},
)
async def execution_events(
    sandbox_id: str,
    execution_id: str,
    caller: Caller,
    sandboxes: Sandboxes,
    streams: Streams,
    after: Annotated[int | None, Query(ge=0, le=MAX_INT64)] = None,
    last_event_id: Annotated[int | None, Header(ge=0, le=MAX_INT64)] = None,
) -> Response:
    sandbox = await sandboxes.get(caller.owner, sandbox_id)
    start_after = after if after is not None else last_event_id or 0
    return sse_response(await streams.resume(sandbox, execution_id, start_after))


@router.get("/executions/{execution_id}")
async def execution_status(
    sandbox_id: str, execution_id: str, caller: Caller, sandboxes: Sandboxes, streams: Streams
) -> ExecutionStatus:
    sandbox = await sandboxes.get(caller.owner, sandbox_id)
    return await streams.status(sandbox, execution_id)
