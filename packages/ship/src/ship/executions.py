"""Executions Ship owns: python and shell runs as tasks, each with its event log and outcome."""

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from ship.errors import ConflictError, NotFoundError, ShipError
from ship.events import EventLog, LogBounds
from ship.kernel import Kernel
from ship.shell import Shell
from shipyard_protocol.ship import (
    EndEvent,
    ExecutionState,
    PythonOutcome,
    PythonRun,
    ShellOutcome,
    ShellRun,
)

logger = logging.getLogger(__name__)

Outcome = TypeVar("Outcome", PythonOutcome, ShellOutcome)


class Execution(Generic[Outcome]):
    """One run: its events as they come, and its outcome (or the error that ended it)."""

    def __init__(self, execution_id: str, exec_type: Literal["python", "shell"], log: EventLog):
        self.execution_id = execution_id
        self.exec_type = exec_type
        self.log = log
        self.outcome: Outcome | None = None
        self.failure: ShipError | None = None
        self.task: asyncio.Task[None] | None = None
        self._done = asyncio.Event()

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    async def result(self) -> Outcome:
        """The outcome once it ended; the Ship error that ended it, if one did."""
        await self._done.wait()
        if self.outcome is None:
            raise self.failure or ShipError("the execution ended without an outcome")
        return self.outcome

    async def wait(self, seconds: float) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self._done.wait(), seconds)

    def state(self) -> ExecutionState:
        return ExecutionState(
            execution_id=self.execution_id,
            exec_type=self.exec_type,
            state="finished" if self.finished else "running",
            last_seq=self.log.last_seq,
            outcome=self.outcome,
        )

    def finish(self, fields: dict[str, Any], seconds: float) -> None:
        self.log.append(EndEvent, duration_ms=round(seconds * 1000), **fields)
        self._done.set()


class Executions:
    """Starts executions, finds them by id, and keeps the last `keep` finished ones.

    Finished executions keep their events for resuming while they hold `kept_bytes` in all;
    beyond that the oldest keep only their `end` (their state and outcome stay).
    """

    def __init__(
        self,
        kernel: Kernel,
        shell: Shell,
        bounds: LogBounds,
        keep: int = 64,
        kept_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self._kernel = kernel
        self._shell = shell
        self._bounds = bounds
        self._keep = keep
        self._kept_bytes = kept_bytes
        self._items: dict[str, Execution[Any]] = {}

    def start_python(self, run: PythonRun) -> Execution[PythonOutcome]:
        execution: Execution[PythonOutcome] = self._new(run.execution_id, "python")

        def body(log: EventLog) -> Awaitable[PythonOutcome]:
            return self._kernel.execute(run.code, run.timeout, log)

        execution.task = asyncio.create_task(self._run(execution, body, _python_end))
        return execution

    def start_shell(self, run: ShellRun, cwd: Path) -> Execution[ShellOutcome]:
        execution: Execution[ShellOutcome] = self._new(run.execution_id, "shell")

        def body(log: EventLog) -> Awaitable[ShellOutcome]:
            return self._shell.run(run.command, cwd, run.env, run.timeout, log)

        execution.task = asyncio.create_task(self._run(execution, body, _shell_end))
        return execution

    def get(self, execution_id: str) -> Execution[Any]:
        try:
            return self._items[execution_id]
        except KeyError:
            details = {"execution_id": execution_id}
            raise NotFoundError(f"no execution {execution_id}", details) from None

    def running(self) -> int:
        return sum(not execution.finished for execution in self._items.values())

    async def shutdown(self) -> None:
        tasks = [e.task for e in self._items.values() if e.task is not None and not e.finished]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _new(
        self, execution_id: str | None, exec_type: Literal["python", "shell"]
    ) -> Execution[Any]:
        execution_id = execution_id or f"exec-{secrets.token_hex(6)}"
        if execution_id in self._items:
            details = {"execution_id": execution_id}
            raise ConflictError(f"execution {execution_id} already exists", details)
        execution: Execution[Any] = Execution(
            execution_id, exec_type, EventLog(execution_id, self._bounds)
        )
        self._items[execution_id] = execution
        return execution

    async def _run(
        self,
        execution: Execution[Outcome],
        body: Callable[[EventLog], Awaitable[Outcome]],
        end: Callable[[Outcome], dict[str, Any]],
    ) -> None:
        """Run `body` to its end; whatever happens, the log ends with exactly one `end` event."""
        started = time.monotonic()
        fields: dict[str, Any] = {"success": False, "error": "ship is shutting down"}
        try:
            execution.outcome = await body(execution.log)
            fields = end(execution.outcome)
        except ShipError as exc:
            execution.failure = exc
            fields["error"] = exc.message
        except Exception as exc:  # a task of its own: nobody else would see the error
            logger.error("execution %s failed", execution.execution_id, exc_info=exc)
            execution.failure = ShipError("internal error in ship")
            fields["error"] = execution.failure.message
        finally:
            execution.finish(fields, time.monotonic() - started)
            self._prune()

    def _prune(self) -> None:
        finished = [execution for execution in self._items.values() if execution.finished]
        held = sum(execution.log.size for execution in finished)
        for execution in finished[:-1]:
            if held <= self._kept_bytes:
                break
            held -= execution.log.compact()
        for execution in finished[: max(len(finished) - self._keep, 0)]:
            del self._items[execution.execution_id]


def _python_end(outcome: PythonOutcome) -> dict[str, Any]:
    error = outcome.error
    return {
        "success": outcome.success,
        "error": f"{error.name}: {error.value}" if error else None,
        "timed_out": outcome.timed_out,
        "kernel_generation": outcome.kernel_generation,
        "kernel_restarted": outcome.kernel_restarted,
    }


def _shell_end(outcome: ShellOutcome) -> dict[str, Any]:
    return {
        "success": outcome.exit_code == 0 and not outcome.timed_out,
        "exit_code": outcome.exit_code,
        "error": "timed out" if outcome.timed_out else None,
        "timed_out": outcome.timed_out,
    }
