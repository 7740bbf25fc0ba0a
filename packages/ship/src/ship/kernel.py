"""The session's IPython kernel: started lazily, one execution at a time, restarted when lost."""

import asyncio
import enum
from collections.abc import Sequence
from pathlib import Path
from queue import Empty
from typing import Any

from ship.config import ShipConfig
from ship.errors import KernelStartError
from ship.events import EventLog
from ship.kernel_exit import CGROUP_COUNTERS, how_it_ended, oom_kills
from ship.kernel_output import Collector
from ship.kernel_process import DIGESTS_KEPT, KernelCommand, KernelProcess
from shipyard_protocol.ship import KernelState, PythonError, PythonOutcome


class _Wait(enum.Enum):
    IDLE = "idle"
    TIMEOUT = "timeout"
    DIED = "died"
    RESTARTED = "restarted"


class Kernel:
    """One IPython kernel per Ship process, cwd the workspace, started by `command`.

    `launched`: a kernel process `__main__` started before importing the rest of Ship.
    """

    def __init__(
        self,
        workspace: Path,
        output_limit: int,
        interrupt_grace: float = 2.0,
        poll_interval: float = 0.5,
        start_timeout: float = 60.0,
        launched: KernelProcess | None = None,
        command: KernelCommand | None = None,
        oom_counters: Sequence[Path] = CGROUP_COUNTERS,
    ) -> None:
        self._workspace = workspace
        self._oom_counters = tuple(oom_counters)
        self._command = command
        self._output_limit = output_limit
        self._interrupt_grace = interrupt_grace
        self._poll_interval = poll_interval
        self._start_timeout = start_timeout
        self._lock = asyncio.Lock()
        # Start and restart; separate from `_lock` so a restart can cut a running execution short.
        self._lifecycle = asyncio.Lock()
        self._process = launched
        self._client: Any = None
        self._generation = 0 if launched is None else 1
        self._last_run_generation: int | None = None
        # Set by a (re)start, cleared once the kernel answers: waiting for it reads iopub,
        # which a running execution's loop must not be made to share.
        self._unready = launched is not None

    @property
    def generation(self) -> int:
        """0 before the first kernel; grows by one each time a kernel and its state are replaced."""
        return self._generation

    async def execute(self, code: str, time_limit: float, log: EventLog) -> PythonOutcome:
        """Run `code` once the previous execution is done, putting its events into `log`."""
        async with self._lock:
            await self._ensure_running()
            oom_before = oom_kills(self._oom_counters)
            msg_id = self._client.execute(code, store_history=True, allow_stdin=False)
            collector = Collector(msg_id, self._generation, self._output_limit, log)
            await self._collect(collector, time_limit, oom_before)
            await self._drop_replies()
            return collector.outcome(self._generation, self._restarted_since(collector.generation))

    async def start(self) -> None:
        """Have a ready kernel now rather than at the first execution (launched or not)."""
        async with self._lifecycle:
            if self._client is not None and not self._unready:
                return
            await self._start()
            await self._warm_up()

    async def interrupt(self) -> KernelState:
        """SIGINT the kernel: a running execution ends with KeyboardInterrupt; variables stay."""
        if self._process is not None:
            self._process.interrupt()
        return KernelState(kernel_generation=self._generation, restarted=False)

    async def restart(self) -> KernelState:
        """Replace the kernel (variables are lost); a running execution ends with an error."""
        async with self._lifecycle:
            if self._process is None:
                return KernelState(kernel_generation=self._generation, restarted=False)
            await self._restart()
        return KernelState(kernel_generation=self._generation, restarted=True)

    async def shutdown(self) -> None:
        if self._client is not None:
            self._client.stop_channels()
            self._client.context.destroy(linger=0)
        if self._process is not None:
            await self._process.close()
        self._client = self._process = None

    def _restarted_since(self, ran_in: int) -> bool:
        """Whether state was lost since the previous execution started (or during this one)."""
        previous = self._last_run_generation
        self._last_run_generation = ran_in
        return self._generation != (ran_in if previous is None else previous)

    async def _ensure_running(self) -> None:
        async with self._lifecycle:
            if self._process is None or self._client is None:
                await self._start()
                return
            if not self._unready and not self._process.alive():
                await self._restart()
            if self._unready:
                await self._wait_ready()

    async def _collect(
        self, collector: Collector, time_limit: float, oom_before: int | None
    ) -> None:
        waited = await self._wait_idle(collector, time_limit)
        if waited is _Wait.TIMEOUT:
            await self._recover_from_timeout(collector, time_limit)
        elif waited is _Wait.DIED:
            returncode = self._process.returncode() if self._process is not None else None
            how = how_it_ended(returncode, oom_before, oom_kills(self._oom_counters))
            await self._restart_unless_done(collector.generation)
            await collector.fail(_lost_error("KernelDiedError", how))
        elif waited is _Wait.RESTARTED:
            await collector.fail(_lost_error("KernelRestartedError", "was restarted"))

    async def _start(self) -> None:
        """Spawn the kernel unless `__main__` did, connect to it, and wait until it answers."""
        try:
            if self._process is None:
                self._process = KernelProcess(self._workspace, self._output_limit, self._command)
                self._generation += 1
                self._process.spawn()
            if self._client is None:
                self._client = _connect(self._process)
        except Exception as exc:  # OSError, zmq's and jupyter's errors alike
            await self.shutdown()
            raise KernelStartError(f"the python kernel did not start: {exc}") from exc
        self._unready = True
        await self._wait_ready()

    async def _warm_up(self) -> None:
        """One silent execution, so the first real one does not pay for IPython's first run."""
        msg_id = self._client.execute("pass", silent=True, store_history=False)
        try:
            while True:
                msg = await self._client.get_iopub_msg(timeout=self._start_timeout)
                parent = msg.get("parent_header", {}).get("msg_id")
                if parent == msg_id and msg["content"].get("execution_state") == "idle":
                    break
        except Empty:
            return
        await self._drop_replies()

    async def _restart(self) -> None:
        """Replace the kernel process; the next execution waits for it to be ready."""
        assert self._process is not None  # noqa: S101 - only restarted once started
        try:
            await self._process.kill()
            self._process.spawn()
        except OSError as exc:
            await self.shutdown()
            raise KernelStartError(f"the python kernel did not restart: {exc}") from exc
        finally:
            self._generation += 1
        self._unready = True

    async def _wait_ready(self) -> None:
        try:
            await self._handshake()
        except RuntimeError as exc:
            await self.shutdown()
            raise KernelStartError(f"the python kernel did not become ready: {exc}") from exc
        self._unready = False

    async def _handshake(self) -> None:
        """Ask for kernel_info until it answers and iopub delivers (jupyter's own wait, minus
        its heartbeat poll on a 0.2 s timer: the process itself says whether it lives)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._start_timeout
        while True:
            request = self._client.kernel_info()
            try:
                reply = await self._client.get_shell_msg(timeout=1)
            except Empty:
                reply = None
            answered = reply is not None and reply["msg_type"] == "kernel_info_reply"
            if answered and await self._iopub_delivers(request):
                return
            if self._process is None or not self._process.alive():
                raise RuntimeError("the kernel exited while starting")
            if loop.time() > deadline:
                raise RuntimeError(f"no answer in {self._start_timeout:g} s")

    async def _iopub_delivers(self, request: str) -> bool:
        """The status of this kernel_info request reached iopub: the subscription is connected
        to this kernel (messages a killed kernel left queued prove nothing)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 0.2
        while (left := deadline - loop.time()) > 0:
            try:
                message = await self._client.get_iopub_msg(timeout=left)
            except Empty:
                return False
            if message.get("parent_header", {}).get("msg_id") == request:
                return True
        return False

    async def _restart_unless_done(self, generation: int) -> None:
        """Restart the kernel `generation` names, unless someone already replaced it."""
        async with self._lifecycle:
            if self._generation == generation:
                await self._restart()

    async def _wait_idle(self, collector: Collector, seconds: float) -> _Wait:
        """Feed `collector` until its execution is idle, the time is up, or the kernel is lost."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        next_check = loop.time() + self._poll_interval
        while not collector.idle:
            now = loop.time()
            if self._generation != collector.generation:
                return _Wait.RESTARTED
            if now >= deadline:
                return _Wait.TIMEOUT
            if now >= next_check:
                if not await self._alive():
                    return _Wait.DIED
                next_check = now + self._poll_interval
            try:
                msg = await self._client.get_iopub_msg(timeout=min(deadline, next_check) - now)
            except Empty:
                continue
            await collector.feed(msg)
        return _Wait.IDLE

    async def _alive(self) -> bool:
        if self._lifecycle.locked():
            return True  # a restart is under way; the loop sees the new generation next
        return self._process is not None and self._process.alive()

    async def _drop_replies(self) -> None:
        """Discard shell replies: results come from iopub, and unread replies would pile up."""
        while await self._client.shell_channel.msg_ready():
            await self._client.get_shell_msg(timeout=0)

    async def _recover_from_timeout(self, collector: Collector, time_limit: float) -> None:
        """Interrupt; if this execution is not idle within the grace period, restart."""
        if self._process is not None:
            self._process.interrupt()
        if await self._wait_idle(collector, self._interrupt_grace) is not _Wait.IDLE:
            await self._restart_unless_done(collector.generation)
        collector.timed_out = True
        value = f"Code execution timed out after {time_limit:g} seconds"
        await collector.fail(PythonError(name="TimeoutError", value=value))


def kernel_for(config: ShipConfig, launched: KernelProcess | None = None) -> Kernel:
    return Kernel(
        config.workspace,
        config.output_limit,
        config.interrupt_grace,
        launched=launched,
        command=config.kernel,
        oom_counters=config.oom_counters,
    )


def _connect(process: KernelProcess) -> Any:
    """A client on the kernel's connection (its shell and iopub channels: interrupts are
    signals, the process says whether it lives, and stdin is never offered)."""
    from jupyter_client.asynchronous.client import AsyncKernelClient

    client = AsyncKernelClient(connection_file=str(process.connection_file))
    client.load_connection_file()
    client.session.digest_history_size = DIGESTS_KEPT
    # "shell" is the Jupyter channel, not a shell.
    client.start_channels(shell=True, iopub=True, stdin=False, hb=False, control=False)  # noqa: S604
    return client


def _lost_error(name: str, how: str) -> PythonError:
    return PythonError(name=name, value=f"The python kernel {how}; its variables are lost.")
