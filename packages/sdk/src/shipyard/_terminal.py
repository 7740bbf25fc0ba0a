"""The sandbox's terminal over WebSocket: `AsyncTerminal` and `Terminal` on websockets' clients.

websockets is optional (`shipyard-sdk[terminal]`): it is imported when a terminal opens, so the
rest of the SDK needs only httpx and pydantic."""

import asyncio
import importlib.util
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Self

import httpx

from shipyard import _endpoints as req
from shipyard.errors import ShipyardError, error_class
from shipyard_protocol.ship import TerminalInput

if TYPE_CHECKING:
    from websockets.asyncio import client as async_ws
    from websockets.sync import client as sync_ws

MAX_FRAME = 16 * 1024 * 1024
INSTALL_HINT = "the terminal needs websockets: pip install 'shipyard-sdk[terminal]'"


def require_websockets() -> None:
    """Raise `ModuleNotFoundError` with the install hint when websockets is missing."""
    if importlib.util.find_spec("websockets") is None:
        raise ModuleNotFoundError(INSTALL_HINT, name="websockets")


class TerminalTarget:
    """Where a terminal connects: the client's base URL as `ws(s)://`, and its key."""

    def __init__(
        self, http: httpx.Client | httpx.AsyncClient, sandbox_id: str, cols: int, rows: int
    ):
        path, query = req.terminal_path(sandbox_id, cols, rows)
        base = http.base_url
        url = base.copy_with(raw_path=base.raw_path + path.lstrip("/").encode())
        url = url.copy_merge_params(query)
        self.url = str(url.copy_with(scheme="wss" if url.scheme == "https" else "ws"))
        key = http.headers.get("Authorization")
        self.headers = {"Authorization": key} if key else {}
        self.open_timeout = http.timeout.connect


def refusal(exc: Exception) -> ShipyardError | None:
    """Bay's answer in a close code (4000 + HTTP status) or a refused handshake, as an error."""
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        return error_class(None, status)(f"terminal refused with HTTP {status}", status)
    received = exc.rcvd if isinstance(exc, ConnectionClosed) else None
    if received is None or received.code < 4000:
        return None
    status = received.code - 4000
    return error_class(None, status)(received.reason or "terminal refused", status)


@contextmanager
def _mapped() -> Iterator[None]:
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    try:
        yield
    except (ConnectionClosed, InvalidStatus) as exc:
        error = refusal(exc)
        if error is None:
            raise
        raise error from exc


def _bytes(frame: str | bytes) -> bytes:
    return frame if isinstance(frame, bytes) else frame.encode()


def _input(data: str) -> str:
    return TerminalInput(type="input", data=data).model_dump_json()


def _resize(cols: int, rows: int) -> str:
    return TerminalInput(type="resize", cols=cols, rows=rows).model_dump_json()


class AsyncTerminal:
    """bash on a PTY in the sandbox, as the sandbox user: `async with sandbox.terminal() as t`.

    `send()` types keystrokes (end a line with "\\r", as a keyboard does), `resize()` sets the
    window, and `recv()` (or async iteration) answers the terminal's output as bytes, `b""`
    once the shell has exited. Bay opens the socket before it checks the call, so a refusal
    (a bad key, no `shell` capability, a runtime without terminals) raises the matching
    `ShipyardError` from the first `recv()` or `send()`. Closing ends the shell.
    """

    def __init__(self, target: TerminalTarget) -> None:
        self._target = target
        self._socket: async_ws.ClientConnection | None = None

    async def open(self) -> Self:
        """Connect; `async with` does this for you."""
        require_websockets()
        from websockets.asyncio import client as async_ws

        with _mapped():
            self._socket = await async_ws.connect(
                self._target.url,
                additional_headers=self._target.headers,
                open_timeout=self._target.open_timeout,
                max_size=MAX_FRAME,
            )
        return self

    async def send(self, data: str) -> None:
        """Type `data` into the terminal."""
        with _mapped():
            await self._connected().send(_input(data))

    async def resize(self, cols: int, rows: int) -> None:
        """Set the window size (1-1000 each); programs in it get SIGWINCH."""
        with _mapped():
            await self._connected().send(_resize(cols, rows))

    async def recv(self, timeout: float | None = None) -> bytes:
        """The next output, `b""` once the shell exited; `TimeoutError` after `timeout` s."""
        from websockets.exceptions import ConnectionClosedOK

        try:
            with _mapped():
                frame = await asyncio.wait_for(self._connected().recv(), timeout)
        except ConnectionClosedOK:
            return b""
        return _bytes(frame)

    async def aclose(self) -> None:
        """Close the socket, which ends the shell."""
        if self._socket is not None:
            await self._socket.close()

    def _connected(self) -> "async_ws.ClientConnection":
        if self._socket is None:
            raise RuntimeError("the terminal is not open: use `async with` or `open()`")
        return self._socket

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self.recv()
        if not chunk:
            raise StopAsyncIteration
        return chunk

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class Terminal:
    """bash on a PTY in the sandbox, as the sandbox user: `with sandbox.terminal() as t`.

    `send()` types keystrokes (end a line with "\\r", as a keyboard does), `resize()` sets the
    window, and `recv()` (or iteration) answers the terminal's output as bytes, `b""`
    once the shell has exited. Bay opens the socket before it checks the call, so a refusal
    (a bad key, no `shell` capability, a runtime without terminals) raises the matching
    `ShipyardError` from the first `recv()` or `send()`. Closing ends the shell.

    It runs on websockets' synchronous client (which reads in a thread of its own), so the
    sync client needs no event loop for it.
    """

    def __init__(self, target: TerminalTarget) -> None:
        self._target = target
        self._socket: sync_ws.ClientConnection | None = None
        self._stack = ExitStack()

    def open(self) -> Self:
        """Connect; `with` does this for you."""
        require_websockets()
        from websockets.sync import client as sync_ws

        with _mapped():
            connecting = sync_ws.connect(
                self._target.url,
                additional_headers=self._target.headers,
                open_timeout=self._target.open_timeout,
                max_size=MAX_FRAME,
            )
            self._socket = self._stack.enter_context(connecting)
        return self

    def send(self, data: str) -> None:
        """Type `data` into the terminal."""
        with _mapped():
            self._connected().send(_input(data))

    def resize(self, cols: int, rows: int) -> None:
        """Set the window size (1-1000 each); programs in it get SIGWINCH."""
        with _mapped():
            self._connected().send(_resize(cols, rows))

    def recv(self, timeout: float | None = None) -> bytes:
        """The next output, `b""` once the shell exited; `TimeoutError` after `timeout` s."""
        from websockets.exceptions import ConnectionClosedOK

        try:
            with _mapped():
                frame = self._connected().recv(timeout)
        except ConnectionClosedOK:
            return b""
        return _bytes(frame)

    def close(self) -> None:
        """Close the socket, which ends the shell."""
        self._stack.close()

    def _connected(self) -> "sync_ws.ClientConnection":
        if self._socket is None:
            raise RuntimeError("the terminal is not open: use `with` or `open()`")
        return self._socket

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> bytes:
        chunk = self.recv()
        if not chunk:
            raise StopIteration
        return chunk

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
