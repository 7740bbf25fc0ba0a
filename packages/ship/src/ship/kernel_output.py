"""One kernel execution's output: its iopub messages as events and as the capped outcome."""

import re
from dataclasses import dataclass, field
from typing import Any

from ship.events import EventLog
from ship.output import OutputBuffer, marker
from shipyard_protocol.ship import (
    DisplayEvent,
    ErrorEvent,
    OutputEvent,
    PythonError,
    PythonOutcome,
    ResultEvent,
)

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_PLAIN = "text/plain"
# Rich bundles are kept whole; once they add up to this many output limits, later ones are dropped.
_OUTPUTS_PER_LIMIT = 16


@dataclass
class Collector:
    """What one execution produced, fed only with iopub messages parented by it.

    Every message becomes an event in `log` (uncapped) and goes into the capped outcome.
    """

    msg_id: str
    generation: int
    limit: int
    log: EventLog
    stdout: OutputBuffer = field(init=False)
    stderr: OutputBuffer = field(init=False)
    result: OutputBuffer = field(init=False)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    outputs_size: int = 0
    outputs_dropped: bool = False
    error: PythonError | None = None
    execution_count: int | None = None
    idle: bool = False
    timed_out: bool = False

    def __post_init__(self) -> None:
        self.stdout = OutputBuffer(self.limit)
        self.stderr = OutputBuffer(self.limit)
        self.result = OutputBuffer(self.limit)

    async def feed(self, msg: dict[str, Any]) -> None:
        if msg.get("parent_header", {}).get("msg_id") != self.msg_id:
            return
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            await self._stream(content)
        elif kind in ("display_data", "execute_result"):
            await self._display(content, is_result=kind == "execute_result")
        elif kind == "error":
            await self.fail(user_error(content))
        elif kind == "execute_input":
            self.execution_count = content.get("execution_count")
        elif kind == "status" and content.get("execution_state") == "idle":
            self.idle = True

    async def fail(self, error: PythonError) -> None:
        self.error = error
        await self.log.put(ErrorEvent, error=error)

    async def _stream(self, content: dict[str, Any]) -> None:
        name = "stderr" if content.get("name") == "stderr" else "stdout"
        buffer = self.stderr if name == "stderr" else self.stdout
        text = str(content.get("text", ""))
        dropped = content.get("dropped")
        if isinstance(dropped, int) and dropped > 0:  # the kernel's own cap (kernel_stream)
            buffer.skip(dropped)
            text = marker(dropped)
        else:
            buffer.write_text(text)
        if text:
            await self.log.put(OutputEvent, kind=name, text=text)

    async def _display(self, content: dict[str, Any], is_result: bool) -> None:
        data: dict[str, Any] = content.get("data", {})
        plain = str(data.get(_PLAIN, ""))
        if is_result:
            self.result.write_text(plain)
            self.execution_count = content.get("execution_count", self.execution_count)
            await self.log.put(ResultEvent, text=plain, data=data)
        else:
            await self.log.put(DisplayEvent, data=data)
        if set(data) - {_PLAIN}:
            self._keep_bundle(data)
        elif not is_result:
            self.stdout.write_text(plain + "\n")

    def _keep_bundle(self, data: dict[str, Any]) -> None:
        size = sum(len(str(value)) for value in data.values())
        if self.outputs_size + size > self.limit * _OUTPUTS_PER_LIMIT:
            self.outputs_dropped = True
            return
        self.outputs.append(data)
        self.outputs_size += size

    def text(self) -> str:
        text = self.stdout.render() + self.stderr.render()
        result = self.result.render()
        if result and text and not text.endswith("\n"):
            text += "\n"
        return (text + result).strip()

    def outcome(self, generation: int, restarted: bool) -> PythonOutcome:
        buffers = (self.stdout, self.stderr, self.result)
        return PythonOutcome(
            success=self.error is None,
            text=self.text(),
            outputs=self.outputs,
            error=self.error,
            execution_count=self.execution_count,
            kernel_generation=generation,
            kernel_restarted=restarted,
            timed_out=self.timed_out,
            truncated=self.outputs_dropped or any(b.truncated for b in buffers),
        )


def user_error(content: dict[str, Any]) -> PythonError:
    return PythonError(
        name=str(content.get("ename", "Error")),
        value=str(content.get("evalue", "")),
        traceback=[_ANSI.sub("", line) for line in content.get("traceback", [])],
    )
