"""The session's IPython kernel: started lazily, one execution at a time, restarted when lost."""

import asyncio
import enum
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import Any

from ship.errors import KernelStartError
from ship.output import OutputBuffer
from shipyard_protocol.ship import PythonError, PythonOutcome

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_PLAIN = "text/plain"
# Rich bundles are kept whole; once they add up to this many output limits, later ones are dropped.
_OUTPUTS_PER_LIMIT = 16


class _Wait(enum.Enum):
    IDLE = "idle"
    TIMEOUT = "timeout"
    DIED = "died"


@dataclass
class _Collector:
    """What one execution produced, fed only with iopub messages parented by it."""

    msg_id: str
    limit: int
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

    def feed(self, msg: dict[str, Any]) -> None:
        if msg.get("parent_header", {}).get("msg_id") != self.msg_id:
            return
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            buffer = self.stderr if content.get("name") == "stderr" else self.stdout
            buffer.write_text(content.get("text", ""))
        elif kind in ("display_data", "execute_result"):
            self._display(content, is_result=kind == "execute_result")
        elif kind == "error":
            self.error = _user_error(content)
        elif kind == "execute_input":
            self.execution_count = content.get("execution_count")
        elif kind == "status" and content.get("execution_state") == "idle":
            self.idle = True

    def _display(self, content: dict[str, Any], is_result: bool) -> None:
        data: dict[str, Any] = content.get("data", {})
        plain = str(data.get(_PLAIN, ""))
        if is_result:
            self.result.write_text(plain)
            self.execution_count = content.get("execution_count", self.execution_count)
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


class Kernel:
    """One IPython kernel per Ship process, using this interpreter, cwd the workspace."""

    def __init__(
        self,
        workspace: Path,
        output_limit: int,
        interrupt_grace: float = 2.0,
        poll_interval: float = 0.5,
        start_timeout: float = 60.0,
    ) -> None:
        self._workspace = workspace
        self._output_limit = output_limit
        self._interrupt_grace = interrupt_grace
        self._poll_interval = poll_interval
        self._start_timeout = start_timeout
        self._lock = asyncio.Lock()
        self._manager: Any = None
        self._client: Any = None
        self._private_dir: Path | None = None
        self._generation = 0
        self._last_run_generation: int | None = None

    @property
    def generation(self) -> int:
        """0 before the first kernel; grows by one each time a kernel and its state are replaced."""
        return self._generation

    async def execute(self, code: str, time_limit: float) -> PythonOutcome:
        async with self._lock:
            await self._ensure_running()
            ran_in = self._generation
            msg_id = self._client.execute(code, store_history=True, allow_stdin=False)
            collector = _Collector(msg_id, self._output_limit)
            waited = await self._wait_idle(collector, time_limit)
            if waited is _Wait.TIMEOUT:
                await self._recover_from_timeout(collector, time_limit)
            elif waited is _Wait.DIED:
                await self._restart()
                collector.error = _died_error()
            await self._drop_replies()
            previous = self._last_run_generation
            restarted = self._generation != (ran_in if previous is None else previous)
            self._last_run_generation = ran_in
            return collector.outcome(self._generation, restarted)

    async def shutdown(self) -> None:
        if self._client is not None:
            self._client.stop_channels()
        if self._manager is not None:
            await self._manager.shutdown_kernel(now=True)
            self._manager.context.destroy(linger=0)
        if self._private_dir is not None:
            shutil.rmtree(self._private_dir, ignore_errors=True)
        self._client = self._manager = self._private_dir = None

    async def _ensure_running(self) -> None:
        if self._manager is None:
            await self._start()
        elif not await self._manager.is_alive():
            await self._restart()

    async def _start(self) -> None:
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import AsyncKernelManager

        self._private_dir = Path(tempfile.mkdtemp(prefix="ship-kernel-"))
        self._manager = AsyncKernelManager(
            kernel_spec_manager=KernelSpecManager(kernel_dirs=[]),
            connection_file=str(self._private_dir / "kernel.json"),
            transport="ipc",
            ip=str(self._private_dir / "zmq"),
        )
        try:
            env = _kernel_env(self._private_dir)
            await self._manager.start_kernel(cwd=str(self._workspace), env=env)
            self._client = self._manager.client()
            self._client.start_channels()
            await self._client.wait_for_ready(timeout=self._start_timeout)
        except (OSError, RuntimeError) as exc:
            await self.shutdown()
            raise KernelStartError(f"the python kernel did not start: {exc}") from exc
        self._generation += 1

    async def _restart(self) -> None:
        try:
            await self._manager.restart_kernel(now=True)
            await self._client.wait_for_ready(timeout=self._start_timeout)
        except (OSError, RuntimeError) as exc:
            await self.shutdown()
            raise KernelStartError(f"the python kernel did not restart: {exc}") from exc
        finally:
            self._generation += 1

    async def _wait_idle(self, collector: _Collector, seconds: float) -> _Wait:
        """Feed `collector` until its execution is idle, the time is up, or the kernel died."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        next_check = loop.time() + self._poll_interval
        while not collector.idle:
            now = loop.time()
            if now >= deadline:
                return _Wait.TIMEOUT
            if now >= next_check:
                if not await self._manager.is_alive():
                    return _Wait.DIED
                next_check = now + self._poll_interval
            try:
                wait = min(deadline, next_check) - now
                collector.feed(await self._client.get_iopub_msg(timeout=wait))
            except Empty:
                continue
        return _Wait.IDLE

    async def _drop_replies(self) -> None:
        """Discard shell replies: results come from iopub, and unread replies would pile up."""
        while await self._client.shell_channel.msg_ready():
            await self._client.get_shell_msg(timeout=0)

    async def _recover_from_timeout(self, collector: _Collector, time_limit: float) -> None:
        """Interrupt; if this execution is not idle within the grace period, restart."""
        await self._manager.interrupt_kernel()
        if await self._wait_idle(collector, self._interrupt_grace) is not _Wait.IDLE:
            await self._restart()
        collector.timed_out = True
        collector.error = PythonError(
            name="TimeoutError", value=f"Code execution timed out after {time_limit:g} seconds"
        )


def _kernel_env(private_dir: Path) -> dict[str, str]:
    """Ship's environment, with Jupyter's and IPython's files kept out of the workspace."""
    dirs = {
        "JUPYTER_RUNTIME_DIR": "runtime",
        "JUPYTER_DATA_DIR": "data",
        "JUPYTER_CONFIG_DIR": "config",
        "IPYTHONDIR": "ipython",
        "MPLCONFIGDIR": "matplotlib",
    }
    env = dict(os.environ)
    for name, sub in dirs.items():
        (private_dir / sub).mkdir(exist_ok=True)
        env[name] = str(private_dir / sub)
    return env


def _user_error(content: dict[str, Any]) -> PythonError:
    return PythonError(
        name=str(content.get("ename", "Error")),
        value=str(content.get("evalue", "")),
        traceback=[_ANSI.sub("", line) for line in content.get("traceback", [])],
    )


def _died_error() -> PythonError:
    return PythonError(
        name="KernelDiedError",
        value="The python kernel died (probably out of memory); its variables are lost.",
    )
