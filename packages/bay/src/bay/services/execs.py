"""Python and shell execution: run in the sandbox's session, answer, and keep history."""

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Executable, update
from sqlalchemy.ext.asyncio import AsyncSession as DbSession
from structlog.contextvars import bind_contextvars

from bay.db.models import Sandbox
from bay.errors import BayError, PayloadTooLargeError
from bay.metrics import Metrics
from bay.services.capabilities import SandboxRef
from bay.services.clock import Clock
from bay.services.ids import new_id
from bay.services.paths import normalize_path
from bay.services.profiles import ProfileCatalog
from bay.services.records import Records, fits
from bay.services.sessions import LEASE_SLACK_S, Ready, SessionService
from bay.ship_session import SessionShip, ShipNotReachedError
from shipyard_protocol.api import (
    PythonExec,
    PythonExecData,
    PythonExecResult,
    ShellExec,
    ShellExecResult,
)
from shipyard_protocol.ship import PythonOutcome, PythonRun, ShellOutcome, ShellRun

ExecRequest = PythonExec | ShellExec
ExecResult = PythonExecResult | ShellExecResult

# Ship runs a command as one argument of `bash -lc`; Linux caps one argument at 128 KiB.
MAX_COMMAND_BYTES = 128 * 1024 - 1


@dataclass(frozen=True)
class ExecLimits:
    max_code_bytes: int = 1024 * 1024


@dataclass(frozen=True)
class Opened:
    """An execution about to reach Ship: its session, its history row open, and whether the
    variables of the sandbox's previous Python execution are gone."""

    ready: Ready
    lost: bool


class ExecService:
    def __init__(
        self,
        sessions: SessionService,
        profiles: ProfileCatalog,
        clock: Clock,
        records: Records,
        limits: ExecLimits,
        metrics: Metrics,
    ) -> None:
        self._sessions = sessions
        self._profiles = profiles
        self._clock = clock
        self._records = records
        self._limits = limits
        self._metrics = metrics

    async def python(self, sandbox: SandboxRef, request: PythonExec) -> PythonExecResult:
        result = await self._run(sandbox, request)
        assert isinstance(result, PythonExecResult)  # noqa: S101 - a python request's result
        return result

    async def shell(self, sandbox: SandboxRef, request: ShellExec) -> ShellExecResult:
        result = await self._run(sandbox, request)
        assert isinstance(result, ShellExecResult)  # noqa: S101 - a shell request's result
        return result

    async def _run(self, sandbox: SandboxRef, request: ExecRequest) -> ExecResult:
        """Warm: one transaction finds the session and opens the history row, Ship runs the
        code, one transaction completes the row."""
        execution_id = new_id("exec")
        run = ship_run(request, execution_id, self._limits.max_code_bytes)
        bind_contextvars(execution_id=execution_id)
        started = time.monotonic()
        opened = await begin(self._sessions, self._records, sandbox, request, run, self._clock)
        try:
            opened, outcome = await self._call(sandbox, request, run, opened)
        except BayError:
            await self._records.forget(execution_id)  # no outcome, no history (contract §1.6)
            raise
        kind = "python" if isinstance(run, PythonRun) else "shell"
        latency = self._metrics.exec_latency.labels(kind, self._metrics.driver)
        latency.observe(time.monotonic() - started)
        result = exec_result(request, outcome, execution_id, _ms_since(started), opened.lost)
        await self._records.close(
            execution_id,
            outcome_values(result),
            renewal(self._profiles, self._clock, sandbox, started),
        )
        return result

    async def _call(
        self, sandbox: SandboxRef, request: ExecRequest, run: PythonRun | ShellRun, opened: Opened
    ) -> tuple[Opened, PythonOutcome | ShellOutcome]:
        """Run on the session found; if its Ship could not even be reached, the code never
        started: once the driver says that session is gone, run it in a new one."""
        try:
            return opened, await _send(opened.ready.ship, run)
        except ShipNotReachedError:
            await self._records.forget(run.execution_id or "")
            again = await begin(self._sessions, self._records, sandbox, request, run, self._clock)
            if again.ready.session_id == opened.ready.session_id:
                raise  # the session still runs: the refusal stands
            return again, await _send(again.ready.ship, run)


def renewal(
    profiles: ProfileCatalog, clock: Clock, sandbox: SandboxRef, started: float
) -> Executable | None:
    """A finished exec is activity too: a long run (begun at monotonic `started`) must not
    leave the idle lease nearly spent; a short one's lease was renewed as it began."""
    if time.monotonic() - started <= LEASE_SLACK_S:
        return None
    now = clock()
    idle = timedelta(seconds=profiles.get(sandbox.profile_id).idle_timeout)
    return (
        update(Sandbox)
        .where(Sandbox.id == sandbox.id, Sandbox.current_session_id.is_not(None))
        .values(last_active_at=now, idle_expires_at=now + idle)
    )


async def _send(ship: SessionShip, run: PythonRun | ShellRun) -> PythonOutcome | ShellOutcome:
    if isinstance(run, PythonRun):
        return await ship.python(run)
    return await ship.shell(run)


async def begin(
    sessions: SessionService,
    records: Records,
    sandbox: SandboxRef,
    request: ExecRequest,
    run: PythonRun | ShellRun,
    clock: Clock,
) -> Opened:
    """The session (started if need be) and the history row, in the transaction that finds
    the session running: a warm execution's one write before Ship."""
    lost = False

    async def opening(db: DbSession, ready: Ready) -> None:
        nonlocal lost
        lost = await kernel_lost(records, db, sandbox.id, ready, run)
        execution_id = run.execution_id or ""
        await records.open(
            db, history_row(sandbox, ready.session_id, request, execution_id, clock())
        )

    ready = await sessions.ensure_running(sandbox.id, isinstance(run, PythonRun), opening)
    return Opened(ready, lost)


async def kernel_lost(
    records: Records, db: DbSession, sandbox_id: str, ready: Ready, run: PythonRun | ShellRun
) -> bool:
    """Whether the variables of the sandbox's previous Python execution are gone before this
    one starts: its session died, or it ran in an earlier session (stop, idle reclaim)."""
    if not isinstance(run, PythonRun):
        return False
    return ready.state_lost or await records.python_ran_before(db, sandbox_id, ready.session_id)


def ship_run(request: ExecRequest, execution_id: str, max_code_bytes: int) -> PythonRun | ShellRun:
    """What Ship is asked to run; a bad cwd or oversized code is refused before any compute."""
    if isinstance(request, PythonExec):
        _check_size("code", request.code, max_code_bytes)
        return PythonRun(code=request.code, timeout=request.timeout, execution_id=execution_id)
    _check_size("command", request.command, min(max_code_bytes, MAX_COMMAND_BYTES))
    cwd = normalize_path(request.cwd, "cwd") if request.cwd is not None else "."
    return ShellRun(
        command=request.command, timeout=request.timeout, cwd=cwd, execution_id=execution_id
    )


def _check_size(field: str, text: str, limit: int) -> None:
    if fits(text, limit):
        return
    raise PayloadTooLargeError(
        f"{field} is larger than the {limit} bytes an execution accepts",
        {"field": field, "limit_bytes": limit},
    )


def exec_result(
    request: ExecRequest,
    outcome: PythonOutcome | ShellOutcome,
    execution_id: str,
    elapsed_ms: int,
    state_lost: bool,
) -> ExecResult:
    """The public result of a finished execution, with the code echoed when asked."""
    if isinstance(outcome, PythonOutcome):
        python = _python_result(outcome, execution_id, elapsed_ms, state_lost)
        python.code = (
            request.code if request.include_code and isinstance(request, PythonExec) else None
        )
        return python
    shell = _shell_result(outcome, execution_id, elapsed_ms)
    if request.include_code and isinstance(request, ShellExec):
        shell.command = request.command
    return shell


def history_row(
    sandbox: SandboxRef,
    session_id: str | None,
    request: ExecRequest,
    execution_id: str,
    now: datetime,
) -> dict[str, object]:
    """The row of an execution about to start; `outcome_values` completes it."""
    python = isinstance(request, PythonExec)
    return dict(
        id=execution_id,
        owner=sandbox.owner,
        sandbox_id=sandbox.id,
        session_id=session_id,
        exec_type="python" if python else "shell",
        code=request.code if isinstance(request, PythonExec) else request.command,
        success=False,
        execution_time_ms=0,
        description=request.description,
        tags=normalize_tags(request.tags),
        created_at=now,
    )


def settled_values(outcome: PythonOutcome | ShellOutcome) -> dict[str, object]:
    """A row's outcome from Ship's record of it, for a row whose request Bay no longer holds."""
    if isinstance(outcome, PythonOutcome):
        values = outcome_values(_python_result(outcome, "", 0, False))
    else:
        values = outcome_values(_shell_result(outcome, "", 0))
    del values["execution_time_ms"]
    return values


LOST = {"success": False, "error": "the outcome was lost: Bay stopped before recording it"}


def outcome_values(result: ExecResult) -> dict[str, object]:
    return {
        "success": result.success,
        "execution_time_ms": result.execution_time_ms,
        "output": result.output,
        "error": result.error,
        "exit_code": getattr(result, "exit_code", None),
    }


def normalize_tags(tags: str | None) -> str | None:
    """`"b, a,b"` -> `"a,b"`: split on commas, trimmed, unique, sorted."""
    if tags is None:
        return None
    unique = sorted({tag.strip() for tag in tags.split(",") if tag.strip()})
    return ",".join(unique) or None


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _python_result(
    outcome: PythonOutcome, execution_id: str, elapsed_ms: int, state_lost: bool
) -> PythonExecResult:
    error = None
    if outcome.error is not None:
        lines = outcome.error.traceback or [f"{outcome.error.name}: {outcome.error.value}"]
        error = "\n".join(lines)
    # Each bundle once: images where the contract puts them, the other rich outputs (HTML,
    # JSON, LaTeX...) in `outputs`, so an image's bytes are not sent twice.
    images: list[dict[str, Any]] = []
    rich: list[dict[str, Any]] = []
    for bundle in outcome.outputs:
        (images if any(k.startswith("image/") for k in bundle) else rich).append(bundle)
    output: dict[str, object] = {"text": outcome.text, "images": images}
    if rich:
        output["outputs"] = rich
    return PythonExecResult(
        success=outcome.success,
        output=outcome.text,
        error=error,
        data=PythonExecData(execution_count=outcome.execution_count, output=output),
        execution_id=execution_id,
        execution_time_ms=elapsed_ms,
        kernel_generation=outcome.kernel_generation,
        kernel_restarted=outcome.kernel_restarted or state_lost,
        truncated=outcome.truncated,
    )


def _shell_result(outcome: ShellOutcome, execution_id: str, elapsed_ms: int) -> ShellExecResult:
    if outcome.timed_out:
        return ShellExecResult(
            success=False,
            output=outcome.stdout.strip(),
            error="Command timed out",
            exit_code=-1,
            execution_id=execution_id,
            execution_time_ms=elapsed_ms,
            truncated=outcome.truncated,
        )
    stderr = outcome.stderr.strip()
    return ShellExecResult(
        success=outcome.exit_code == 0,
        output=outcome.stdout.strip(),
        error=stderr or None,
        exit_code=outcome.exit_code,
        execution_id=execution_id,
        execution_time_ms=elapsed_ms,
        truncated=outcome.truncated,
    )
