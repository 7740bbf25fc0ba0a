# generated from _async_terminal.py by scripts/unasync.py; do not edit
"""`Terminal`: bash in the sandbox over a WebSocket, used with `with`."""

from contextlib import ExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Self

from shipyard._terminal import (
    MAX_FRAME,
    TerminalTarget,
    as_bytes,
    input_frame,
    mapped,
    received,
    require_websockets,
    resize_frame,
)

if TYPE_CHECKING:
    from websockets.sync import client as ws


class Terminal:
    """bash on a PTY in the sandbox, as the sandbox user: `with sandbox.terminal() as t`.

    `send()` types keystrokes (end a line with "\\r", as a keyboard does), `resize()` sets the
    window, and `recv()` (or iterating with `for`) answers the terminal's output as
    bytes, `b""` once the shell has exited. Bay opens the socket before it checks the call,
    so a refusal (a bad key, no `shell` capability, a runtime without terminals) raises the
    matching `ShipyardError` from the first `recv()` or `send()`. Closing ends the shell.
    """

    def __init__(self, target: TerminalTarget) -> None:
        self._target = target
        self._socket: ws.ClientConnection | None = None
        self._stack = ExitStack()

    def open(self) -> Self:
        """Connect; `with` does this for you."""
        require_websockets()
        from websockets.sync import client as ws

        with mapped():
            connecting = ws.connect(
                self._target.url,
                additional_headers=self._target.headers,
                open_timeout=self._target.open_timeout,
                max_size=MAX_FRAME,
            )
            self._socket = self._stack.enter_context(connecting)
        return self

    def send(self, data: str) -> None:
        """Type `data` into the terminal."""
        with mapped():
            self._connected().send(input_frame(data))

    def resize(self, cols: int, rows: int) -> None:
        """Set the window size (1-1000 each); programs in it get SIGWINCH."""
        with mapped():
            self._connected().send(resize_frame(cols, rows))

    def recv(self, timeout: float | None = None) -> bytes:
        """The next output, `b""` once the shell exited; `TimeoutError` after `timeout` s."""
        from websockets.exceptions import ConnectionClosedOK

        try:
            with mapped():
                frame = received(self._connected(), timeout)
        except ConnectionClosedOK:
            return b""
        return as_bytes(frame)

    def close(self) -> None:
        """Close the socket, which ends the shell."""
        self._stack.close()

    def _connected(self) -> "ws.ClientConnection":
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
