"""`AsyncTerminal`: bash in the sandbox over a WebSocket, used with `async with`."""

from contextlib import AsyncExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Self

from shipyard._terminal import (
    MAX_FRAME,
    TerminalTarget,
    as_bytes,
    async_received,
    input_frame,
    mapped,
    require_websockets,
    resize_frame,
)

if TYPE_CHECKING:
    from websockets.asyncio import client as async_ws


class AsyncTerminal:
    """bash on a PTY in the sandbox, as the sandbox user: `async with sandbox.terminal() as t`.

    `send()` types keystrokes (end a line with "\\r", as a keyboard does), `resize()` sets the
    window, and `recv()` (or iterating with `async for`) answers the terminal's output as
    bytes, `b""` once the shell has exited. Bay opens the socket before it checks the call,
    so a refusal (a bad key, no `shell` capability, a runtime without terminals) raises the
    matching `ShipyardError` from the first `recv()` or `send()`. Closing ends the shell.
    """

    def __init__(self, target: TerminalTarget) -> None:
        self._target = target
        self._socket: async_ws.ClientConnection | None = None
        self._stack = AsyncExitStack()

    async def open(self) -> Self:
        """Connect; `async with` does this for you."""
        require_websockets()
        from websockets.asyncio import client as async_ws

        with mapped():
            connecting = async_ws.connect(
                self._target.url,
                additional_headers=self._target.headers,
                open_timeout=self._target.open_timeout,
                max_size=MAX_FRAME,
            )
            self._socket = await self._stack.enter_async_context(connecting)
        return self

    async def send(self, data: str) -> None:
        """Type `data` into the terminal."""
        with mapped():
            await self._connected().send(input_frame(data))

    async def resize(self, cols: int, rows: int) -> None:
        """Set the window size (1-1000 each); programs in it get SIGWINCH."""
        with mapped():
            await self._connected().send(resize_frame(cols, rows))

    async def recv(self, timeout: float | None = None) -> bytes:
        """The next output, `b""` once the shell exited; `TimeoutError` after `timeout` s."""
        from websockets.exceptions import ConnectionClosedOK

        try:
            with mapped():
                frame = await async_received(self._connected(), timeout)
        except ConnectionClosedOK:
            return b""
        return as_bytes(frame)

    async def aclose(self) -> None:
        """Close the socket, which ends the shell."""
        await self._stack.aclose()

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
