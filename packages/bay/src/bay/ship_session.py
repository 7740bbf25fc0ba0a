"""One session's Ship, as services call it: every failure arrives as Bay's error.

Transport failures and Ship's error answers become Bay's errors here, once, for every call
(as httpx maps httpcore's exceptions inside its transports): services never translate.
Ship's file, path and quota errors keep their code; a Ship that cannot be reached or answers
an error of its own is 502; one that does not answer in time is 504.
"""

from collections.abc import AsyncIterable, Awaitable
from dataclasses import dataclass
from typing import TypeVar

from bay.errors import (
    ERRORS_BY_CODE,
    BayError,
    CapabilityNotSupportedError,
    ShipError,
    ShipTimeoutError,
)
from bay.ship_client import (
    ClientConnection,
    ShipCallError,
    ShipClient,
    ShipDownload,
    ShipRefusedError,
    ShipStream,
    ShipTimedOutError,
)
from shipyard_protocol.ship import (
    BrowserBatch,
    BrowserBatchRun,
    BrowserRun,
    BrowserStep,
    DirectoryListing,
    FileText,
    FileWritten,
    KernelState,
    ProcessInfo,
    ProcessList,
    ProcessLogs,
    ProcessStart,
    PythonOutcome,
    PythonRun,
    ShellOutcome,
    ShellRun,
)

T = TypeVar("T")


class ShipNotReachedError(ShipError):
    """No connection to Ship was made: the call provably never started."""


def bay_error(exc: ShipCallError) -> BayError:
    """The Bay error a failed Ship call answers the caller with."""
    if isinstance(exc, ShipTimedOutError):
        return ShipTimeoutError(exc.message)
    if isinstance(exc, ShipRefusedError):
        return ShipNotReachedError(f"Ship request failed: {exc.message}")
    error_class = ERRORS_BY_CODE.get(exc.code)
    if error_class is not None:
        return error_class(exc.message, exc.details)
    detail = f" ({exc.status})" if exc.status else ""
    return ShipError(f"Ship request failed{detail}: {exc.message}")


async def _answer(call: Awaitable[T]) -> T:
    try:
        return await call
    except ShipCallError as exc:
        raise bay_error(exc) from exc


@dataclass(frozen=True)
class SessionShip:
    """The Ship of one running session (`endpoint`), through Bay's shared client; the
    browser's Ship answers at `browser_endpoint` (None: the session has no browser)."""

    client: ShipClient
    endpoint: str
    browser_endpoint: str | None = None

    def browser(self, run: BrowserRun) -> Awaitable[BrowserStep]:
        return _answer(self.client.browser(self._browser(), run))

    def browser_batch(self, run: BrowserBatchRun) -> Awaitable[BrowserBatch]:
        return _answer(self.client.browser_batch(self._browser(), run))

    def _browser(self) -> str:
        if self.browser_endpoint is None:
            # The level-2 check: the profile offers a browser, this session runs none (one
            # started before the profile gained it).
            raise CapabilityNotSupportedError(
                "Runtime does not support capability 'browser'",
                {"capability": "browser", "available": []},
            )
        return self.browser_endpoint

    def python(self, run: PythonRun) -> Awaitable[PythonOutcome]:
        return _answer(self.client.python(self.endpoint, run))

    def shell(self, run: ShellRun) -> Awaitable[ShellOutcome]:
        return _answer(self.client.shell(self.endpoint, run))

    def stream(self, run: PythonRun | ShellRun) -> Awaitable[ShipStream]:
        return _answer(self.client.stream(self.endpoint, run))

    def events(self, execution_id: str, after: int) -> Awaitable[ShipStream]:
        return _answer(self.client.events(self.endpoint, execution_id, after))

    def read_file(self, path: str) -> Awaitable[FileText]:
        return _answer(self.client.read_file(self.endpoint, path))

    def write_file(self, path: str, content: str) -> Awaitable[FileWritten]:
        return _answer(self.client.write_file(self.endpoint, path, content))

    def delete(self, path: str) -> Awaitable[FileWritten]:
        return _answer(self.client.delete(self.endpoint, path))

    def list_dir(self, path: str) -> Awaitable[DirectoryListing]:
        return _answer(self.client.list_dir(self.endpoint, path))

    def upload(self, path: str, chunks: AsyncIterable[bytes]) -> Awaitable[FileWritten]:
        return _answer(self.client.upload(self.endpoint, path, chunks))

    def download(self, path: str) -> Awaitable[ShipDownload]:
        return _answer(self.client.download(self.endpoint, path))

    def start_process(self, start: ProcessStart) -> Awaitable[ProcessInfo]:
        return _answer(self.client.start_process(self.endpoint, start))

    def processes(self) -> Awaitable[ProcessList]:
        return _answer(self.client.processes(self.endpoint))

    def process(self, process_id: str) -> Awaitable[ProcessInfo]:
        return _answer(self.client.process(self.endpoint, process_id))

    def process_logs(
        self, process_id: str, stream: str, offset: int, limit: int
    ) -> Awaitable[ProcessLogs]:
        return _answer(self.client.process_logs(self.endpoint, process_id, stream, offset, limit))

    def wait_process(self, process_id: str, timeout: float) -> Awaitable[ProcessInfo]:
        return _answer(self.client.wait_process(self.endpoint, process_id, timeout))

    def signal_process(self, process_id: str, signal: str) -> Awaitable[ProcessInfo]:
        return _answer(self.client.signal_process(self.endpoint, process_id, signal))

    def kill_process(self, process_id: str) -> Awaitable[ProcessInfo]:
        return _answer(self.client.kill_process(self.endpoint, process_id))

    def interrupt(self) -> Awaitable[KernelState]:
        return _answer(self.client.interrupt(self.endpoint))

    def restart(self) -> Awaitable[KernelState]:
        return _answer(self.client.restart(self.endpoint))

    def terminal(self, cols: int, rows: int) -> Awaitable[ClientConnection]:
        return _answer(self.client.terminal(self.endpoint, cols, rows))
