"""Streamed executions: relay Ship's events (with heartbeats), resume them, and record history
once the execution ends, whether or not anyone is still listening."""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import select
from structlog.contextvars import bind_contextvars

from bay.db.models import ExecutionHistory
from bay.errors import BayError, NotFoundError
from bay.services.capabilities import SandboxRef
from bay.services.clock import Clock
from bay.services.execs import (
    ExecLimits,
    ExecRequest,
    begin,
    exec_result,
    outcome_values,
    settled_values,
    ship_run,
)
from bay.services.ids import new_id
from bay.services.records import Records
from bay.services.sessions import SessionRuntime, SessionService
from bay.services.tasks import Tasks
from bay.ship_client import ExecEventModel, ShipCallError, ShipStream
from bay.ship_session import SessionShip
from shipyard_protocol.api import ExecutionStatus
from shipyard_protocol.ship import EndEvent, ExecutionState, PythonOutcome, PythonRun, ShellRun

log = logging.getLogger(__name__)

# Yielded when the stream was quiet for a heartbeat interval; the HTTP layer writes a comment.
HEARTBEAT = None
EventOrBeat = ExecEventModel | None


@dataclass(frozen=True)
class StreamSettings:
    heartbeat_s: float = 15.0


class StreamService:
    def __init__(
        self,
        runtime: SessionRuntime,
        sessions: SessionService,
        tasks: Tasks,
        settings: StreamSettings,
        clock: Clock,
        records: Records,
        limits: ExecLimits,
    ) -> None:
        self._rt = runtime
        self._sessions = sessions
        self._tasks = tasks
        self._settings = settings
        self._clock = clock
        self._records = records
        self._limits = limits

    async def start(self, sandbox: SandboxRef, request: ExecRequest) -> AsyncIterator[EventOrBeat]:
        """Start an execution and return its live events; errors before the first event raise."""
        execution_id = new_id("exec")
        run = ship_run(request, execution_id, self._limits.max_code_bytes)
        bind_contextvars(execution_id=execution_id)
        opened = await begin(self._sessions, self._records, sandbox, request, run, self._clock)
        ready, lost = opened.ready, opened.lost
        try:
            stream = await ready.ship.stream(run)
        except BayError:
            await self._records.forget(execution_id)
            raise
        self._tasks.spawn(
            self._record_when_done(ready.endpoint, request, run, lost),
            name=f"history-{execution_id}",
        )
        return with_heartbeats(stream, self._settings.heartbeat_s, kernel_lost=lost)

    async def resume(
        self, sandbox: SandboxRef, execution_id: str, after: int
    ) -> AsyncIterator[EventOrBeat]:
        """Events with id > after, from the session that runs (or ran) the execution."""
        ship = await self._live_ship(sandbox, execution_id)
        stream = await ship.events(execution_id, after)
        return with_heartbeats(stream, self._settings.heartbeat_s)

    async def status(self, sandbox: SandboxRef, execution_id: str) -> ExecutionStatus:
        endpoint = await self._sessions.running_endpoint(sandbox.id)
        if endpoint is not None:
            with contextlib.suppress(ShipCallError):
                state = await self._rt.ship.execution(endpoint, execution_id)
                if state.outcome is not None:  # a Bay that stopped mid-run left the row open
                    await self._records.close(execution_id, settled_values(state.outcome))
                return _status_from_ship(state)
        return await self._status_from_history(sandbox, execution_id)

    async def _live_ship(self, sandbox: SandboxRef, execution_id: str) -> SessionShip:
        ship = await self._sessions.running_ship(sandbox.id)
        if ship is None:
            raise NotFoundError(
                f"Events of {execution_id} are gone: they live only as long as the session"
            )
        return ship

    async def _status_from_history(self, sandbox: SandboxRef, execution_id: str) -> ExecutionStatus:
        async with self._rt.sessionmaker() as db:
            row = await db.scalar(
                select(ExecutionHistory).where(
                    ExecutionHistory.id == execution_id,
                    ExecutionHistory.sandbox_id == sandbox.id,
                    ExecutionHistory.owner == sandbox.owner,
                )
            )
        if row is None:
            raise NotFoundError(f"Execution not found: {execution_id}")
        return ExecutionStatus(
            execution_id=row.id,
            exec_type=row.exec_type,
            status="running" if row.status == "running" else "finished",
            success=row.success,
            exit_code=row.exit_code,
            execution_time_ms=row.execution_time_ms,
        )

    async def _record_when_done(
        self, endpoint: str, request: ExecRequest, run: PythonRun | ShellRun, lost: bool
    ) -> None:
        started = time.monotonic()
        execution_id = run.execution_id or ""
        deadline = started + run.timeout + 60
        while time.monotonic() < deadline:
            try:
                state = await self._rt.ship.execution(endpoint, execution_id, wait=30)
            except ShipCallError as exc:
                log.warning("history of %s not recorded: %s", execution_id, exc.message)
                return
            if state.outcome is not None:
                elapsed = int((time.monotonic() - started) * 1000)
                result = exec_result(request, state.outcome, execution_id, elapsed, lost)
                await self._records.close(execution_id, outcome_values(result))
                return
        log.warning("history of %s not recorded: it never ended", execution_id)


async def with_heartbeats(
    stream: ShipStream, interval: float, kernel_lost: bool = False
) -> AsyncIterator[EventOrBeat]:
    """Ship's events, with HEARTBEAT whenever `interval` passes without one.

    `kernel_lost`: the end event says `kernel_restarted` (Ship cannot tell: the kernel it
    started is its first, while the sandbox's earlier session had variables).

    A pump task reads the stream into a small queue, so a slow client slows Ship down
    (backpressure) instead of piling events up here.
    """
    queue: asyncio.Queue[ExecEventModel | BaseException | None] = asyncio.Queue(maxsize=64)
    pump = asyncio.create_task(_pump(stream.events(), queue.put))
    try:
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), interval)
            except TimeoutError:
                yield HEARTBEAT
                continue
            if item is None:
                return
            if isinstance(item, BaseException):
                log.warning("event stream from Ship was cut: %r", item)
                return
            if kernel_lost and isinstance(item, EndEvent):
                item = item.model_copy(update={"kernel_restarted": True})
            yield item
    finally:
        pump.cancel()
        await stream.aclose()


async def _pump(
    events: AsyncIterator[ExecEventModel],
    put: Callable[[ExecEventModel | BaseException | None], Awaitable[None]],
) -> None:
    try:
        async for event in events:
            await put(event)
    except ShipCallError as exc:
        await put(exc)
        return
    await put(None)


def _status_from_ship(state: ExecutionState) -> ExecutionStatus:
    outcome = state.outcome
    success: bool | None = None
    exit_code: int | None = None
    if isinstance(outcome, PythonOutcome):
        success = outcome.success
    elif outcome is not None:
        success, exit_code = outcome.exit_code == 0, outcome.exit_code
    return ExecutionStatus(
        execution_id=state.execution_id,
        exec_type=state.exec_type,
        status=state.state,
        success=success,
        exit_code=exit_code,
        last_event_id=state.last_seq,
    )
