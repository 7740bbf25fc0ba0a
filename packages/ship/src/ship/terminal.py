"""Terminals: a PTY running `bash -l` per WebSocket; its session is killed when either side ends."""

import asyncio
import fcntl
import os
import pty
import signal
import struct
import sys
import termios
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from pydantic import ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect

from shipyard_protocol.ship import TerminalInput

# bash only gets job control with a controlling terminal; subprocess cannot give it one, so a
# tiny Python step claims the PTY (after setsid) and then execs bash in its place.
_CLAIM_TTY = (
    "import fcntl, os, sys, termios; "
    "fcntl.ioctl(0, termios.TIOCSCTTY, 0); os.execvp(sys.argv[1], sys.argv[1:])"
)
# Chunks of output queued for a slow WebSocket before reading the PTY pauses.
_QUEUED_CHUNKS = 64


class _Output(asyncio.Protocol):
    """Queues what the PTY prints; None marks the end (the shell and its session are gone)."""

    def __init__(self) -> None:
        self.chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._transport: asyncio.ReadTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.ReadTransport)  # noqa: S101 - a read pipe
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self.chunks.put_nowait(data)
        if self._transport is not None and self.chunks.qsize() >= _QUEUED_CHUNKS:
            self._transport.pause_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        # Reading the master fails with EIO once no process holds the terminal any more.
        self.chunks.put_nowait(None)

    async def next(self) -> bytes | None:
        chunk = await self.chunks.get()
        if self._transport is not None and self.chunks.qsize() < _QUEUED_CHUNKS // 2:
            self._transport.resume_reading()
        return chunk


class Pty:
    """One terminal: the master side of a PTY and the shell session on its slave side."""

    def __init__(self, master: int, child: asyncio.subprocess.Process) -> None:
        self.pid = child.pid
        self._master = master
        self._child = child
        self._output = _Output()
        self._reader: asyncio.ReadTransport | None = None
        self._writer: asyncio.WriteTransport | None = None

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        # Each transport closes its own descriptor (the reader as soon as the shell is gone);
        # `_master` stays open for resizing until `close`.
        self._reader, _ = await loop.connect_read_pipe(
            lambda: self._output, os.fdopen(os.dup(self._master), "rb", 0)
        )
        self._writer, _ = await loop.connect_write_pipe(
            asyncio.Protocol, os.fdopen(os.dup(self._master), "wb", 0)
        )

    async def relay(self, websocket: WebSocket) -> None:
        """Pump bytes both ways until the client leaves or the shell exits (then close)."""
        output = asyncio.create_task(self._send_output(websocket))
        keys = asyncio.create_task(self._receive_input(websocket))
        done, pending = await asyncio.wait({output, keys}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if output in done:
            with suppress(WebSocketDisconnect, RuntimeError):
                await websocket.close()

    def resize(self, cols: int, rows: int) -> None:
        _set_size(self._master, cols, rows)

    async def close(self) -> None:
        """Kill every process of the terminal's session, then release the PTY."""
        _kill_session(self.pid)
        for transport in (self._writer, self._reader):
            if transport is not None:
                transport.close()
        os.close(self._master)
        await self._child.wait()

    async def _send_output(self, websocket: WebSocket) -> None:
        while (chunk := await self._output.next()) is not None:
            try:
                await websocket.send_bytes(chunk)
            except WebSocketDisconnect:
                return

    async def _receive_input(self, websocket: WebSocket) -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                self._handle(message["text"])
            elif message.get("bytes") is not None:
                self._type(message["bytes"])

    def _handle(self, text: str) -> None:
        """A JSON frame (`TerminalInput`), or else keystrokes as they are: xterm.js's attach
        add-on and upstream Ship's clients send each key press as a plain text frame."""
        frame = _frame(text)
        if frame is None:
            self._type(text.encode())
        elif frame.type == "input":
            self._type(frame.data.encode())
        elif frame.cols and frame.rows:
            self.resize(frame.cols, frame.rows)

    def _type(self, keys: bytes) -> None:
        if self._writer is not None:
            self._writer.write(keys)


class Terminals:
    """The open terminals of the session, counted for activity, all killed at shutdown."""

    def __init__(self, workspace: Path) -> None:
        self._workspace = workspace
        self._open: set[Pty] = set()

    @property
    def count(self) -> int:
        return len(self._open)

    @asynccontextmanager
    async def open(self, cols: int, rows: int) -> AsyncIterator[Pty]:
        terminal = await self._spawn(cols, rows)
        self._open.add(terminal)
        try:
            await terminal.connect()
            yield terminal
        finally:
            self._open.discard(terminal)
            await terminal.close()

    async def shutdown(self) -> None:
        for terminal in list(self._open):
            _kill_session(terminal.pid)

    async def _spawn(self, cols: int, rows: int) -> Pty:
        master, slave = pty.openpty()
        try:
            _set_size(slave, cols, rows)
            child = await asyncio.create_subprocess_exec(
                *(sys.executable, "-c", _CLAIM_TTY, "bash", "-l"),
                stdin=slave,
                stdout=slave,
                stderr=slave,
                cwd=self._workspace,
                env={**os.environ, "TERM": "xterm-256color"},
                start_new_session=True,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        return Pty(master, child)


def _frame(text: str) -> TerminalInput | None:
    """The control frame `text` holds; None for anything else (keystrokes, pasted JSON that is
    not a frame)."""
    if not text.startswith("{"):
        return None
    try:
        return TerminalInput.model_validate_json(text)
    except ValidationError:
        return None


def _set_size(fd: int, cols: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def _kill_session(sid: int) -> None:
    """SIGKILL the shell's group and every other process in its session (its jobs)."""
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(sid, signal.SIGKILL)
    with suppress(FileNotFoundError):
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                _kill_if_in_session(int(entry.name), sid)


def _kill_if_in_session(pid: int, sid: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        if os.getsid(pid) == sid:
            os.kill(pid, signal.SIGKILL)
