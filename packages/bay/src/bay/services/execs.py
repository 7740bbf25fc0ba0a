"""Python and shell execution: run in the sandbox's session, answer, and keep history."""

import time
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession as DbSession

from bay.db.models import ExecutionHistory, Sandbox
from bay.services.clock import Clock
from bay.services.ids import new_id
from bay.services.paths import normalize_path
from bay.services.profiles import ProfileCatalog
from bay.services.sessions import LEASE_SLACK_S, SessionService
from bay.services.ship_errors import mapped_ship_errors
from bay.ship_client import ShipClient
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


class ExecService:
    def __init__(
        self,
        db: DbSession,
        sessions: SessionService,
        ship: ShipClient,
        profiles: ProfileCatalog,
        clock: Clock,
    ) -> None:
        self._db = db
        self._sessions = sessions
        self._ship = ship
        self._profiles = profiles
        self._clock = clock

    async def python(self, sandbox: Sandbox, request: PythonExec) -> PythonExecResult:
        result = await self._run(sandbox, request)
        assert isinstance(result, PythonExecResult)  # noqa: S101 - a python request's result
        return result

    async def shell(self, sandbox: Sandbox, request: ShellExec) -> ShellExecResult:
        result = await self._run(sandbox, request)
        assert isinstance(result, ShellExecResult)  # noqa: S101 - a shell request's result
        return result

    async def _run(self, sandbox: Sandbox, request: ExecRequest) -> ExecResult:
        run = ship_run(request, new_id("exec"))
        started = time.monotonic()
        ready = await self._sessions.ensure_running(sandbox.id, isinstance(run, PythonRun))
        with mapped_ship_errors():
            if isinstance(run, PythonRun):
                outcome: PythonOutcome | ShellOutcome = await self._ship.python(ready.endpoint, run)
            else:
                outcome = await self._ship.shell(ready.endpoint, run)
        result = exec_result(request, outcome, run, _ms_since(started), ready.state_lost)
        self._db.add(history_row(sandbox, ready.session_id, request, result, self._clock()))
        if time.monotonic() - started > LEASE_SLACK_S:
            await self._renew(sandbox)
        return result  # the history row is written when the request commits

    async def _renew(self, sandbox: Sandbox) -> None:
        """A finished exec is activity too: a long run must not leave the lease nearly spent."""
        now = self._clock()
        idle = timedelta(seconds=self._profiles.get(sandbox.profile_id).idle_timeout)
        await self._db.execute(
            update(Sandbox)
            .where(Sandbox.id == sandbox.id, Sandbox.current_session_id.is_not(None))
            .values(last_active_at=now, idle_expires_at=now + idle)
        )


def ship_run(request: ExecRequest, execution_id: str) -> PythonRun | ShellRun:
    """What Ship is asked to run; a bad cwd is 400 before any compute starts."""
    if isinstance(request, PythonExec):
        return PythonRun(code=request.code, timeout=request.timeout, execution_id=execution_id)
    cwd = normalize_path(request.cwd, "cwd") if request.cwd is not None else "."
    return ShellRun(
        command=request.command, timeout=request.timeout, cwd=cwd, execution_id=execution_id
    )


def exec_result(
    request: ExecRequest,
    outcome: PythonOutcome | ShellOutcome,
    run: PythonRun | ShellRun,
    elapsed_ms: int,
    state_lost: bool,
) -> ExecResult:
    """The public result of a finished execution, with the code echoed when asked."""
    execution_id = run.execution_id or new_id("exec")
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
    sandbox: Sandbox,
    session_id: str | None,
    request: ExecRequest,
    result: ExecResult,
    now: datetime,
) -> ExecutionHistory:
    python = isinstance(request, PythonExec)
    return ExecutionHistory(
        id=result.execution_id,
        owner=sandbox.owner,
        sandbox_id=sandbox.id,
        session_id=session_id,
        exec_type="python" if python else "shell",
        code=request.code if isinstance(request, PythonExec) else request.command,
        success=result.success,
        execution_time_ms=result.execution_time_ms,
        output=result.output,
        error=result.error,
        exit_code=getattr(result, "exit_code", None),
        description=request.description,
        tags=normalize_tags(request.tags),
        created_at=now,
    )


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
    images = [bundle for bundle in outcome.outputs if any(k.startswith("image/") for k in bundle)]
    output: dict[str, object] = {"text": outcome.text, "images": images}
    if outcome.outputs:
        output["outputs"] = outcome.outputs
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
