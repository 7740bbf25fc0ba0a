"""`shipyard terminal`: the sandbox's bash in this terminal, in raw mode until it exits."""

import asyncio
import codecs
import os
import signal
import stat
import sys
import termios
import tty
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

import typer
from websockets.exceptions import WebSocketException

from shipyard import AsyncClient, AsyncTerminal
from shipyard.cli._common import Connection, SandboxOption, fail, reported
from shipyard.cli._spinner import while_starting

# Typed when piped input ends. Not Ctrl-D: bash reads that as end of input only at its prompt,
# and a pipe's end usually arrives while the last command still runs.
END_OF_INPUT = "\rexit\r"
Key = bytes | tuple[int, int]  # typed bytes, or a new window size


def terminal(ctx: typer.Context, sandbox: SandboxOption) -> None:
    """Open an interactive bash in the sandbox; `exit` or Ctrl-D leaves.

    Keys go to the sandbox as typed (Ctrl-C included), the window size follows this one, and
    this terminal is restored on exit. Piped stdin is typed in, then `exit`.
    """
    try:
        with reported():
            asyncio.run(_session(ctx.ensure_object(Connection), sandbox))
    except (OSError, WebSocketException) as exc:
        fail(f"Error: terminal connection failed: {exc}")


async def _session(connection: Connection, sandbox_id: str) -> None:
    async with AsyncClient(connection.endpoint, connection.api_key) as client:
        sandbox = await client.sandboxes.get(sandbox_id)
        async with sandbox.terminal(*window_size(sys.stdout)) as shell:
            with while_starting(sandbox.info):
                first = await shell.recv()  # Bay's refusal, if any, comes before raw mode
            stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
            with raw_mode(stdin):
                _write(stdout, first)
                await relay(shell, stdin, stdout)


def window_size(stream: TextIO | int) -> tuple[int, int]:
    """Columns and rows of the terminal on `stream`; 80x24 when it is not one or has no size."""
    try:
        size = os.get_terminal_size(stream if isinstance(stream, int) else stream.fileno())
    except (OSError, ValueError):
        return 80, 24
    return (size.columns, size.lines) if size.columns and size.lines else (80, 24)


@contextmanager
def raw_mode(fd: int) -> Iterator[None]:
    """Keys pass through unprocessed while inside; the settings come back however it ends."""
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    tty.setraw(fd, termios.TCSANOW)  # not the default TCSAFLUSH, which drops keys typed ahead
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


async def relay(shell: AsyncTerminal, stdin: int, stdout: int) -> None:
    """Copy the shell's output to `stdout` and `stdin` (and SIGWINCH) to the shell until it
    exits."""
    loop = asyncio.get_running_loop()
    keys: asyncio.Queue[Key] = asyncio.Queue()
    watched = _watchable(stdin)
    if watched:
        loop.add_reader(stdin, _read_key, loop, stdin, keys)
    else:  # a file or /dev/null: epoll cannot watch it, and reading it never blocks
        typed = _read_all(stdin)
        if typed:  # an empty key is the end of input, which is typed once
            keys.put_nowait(typed)
        keys.put_nowait(b"")
    loop.add_signal_handler(signal.SIGWINCH, lambda: keys.put_nowait(window_size(stdout)))
    typing = asyncio.create_task(_type(shell, keys))
    try:
        async for chunk in shell:
            _write(stdout, chunk)
    finally:
        if watched:
            loop.remove_reader(stdin)
        loop.remove_signal_handler(signal.SIGWINCH)
        typing.cancel()


def _watchable(fd: int) -> bool:
    """A terminal, pipe or socket; not a regular file or a device such as /dev/null."""
    mode = os.fstat(fd).st_mode
    return os.isatty(fd) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _read_key(loop: asyncio.AbstractEventLoop, fd: int, keys: "asyncio.Queue[Key]") -> None:
    data = os.read(fd, 4096)
    if not data:  # end of input: stop watching, or it reads as ready forever
        loop.remove_reader(fd)
    keys.put_nowait(data)


async def _type(shell: AsyncTerminal, keys: "asyncio.Queue[Key]") -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    while True:
        key = await keys.get()
        if isinstance(key, tuple):
            await shell.resize(*key)
        elif key:
            await shell.send(decoder.decode(key))
        else:
            await shell.send(END_OF_INPUT)


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
