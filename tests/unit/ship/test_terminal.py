"""WS /terminal over a real socket: a PTY running `bash -l` in the workspace."""

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from .test_shell import is_gone


@asynccontextmanager
async def terminal(url: str, query: str = "cols=80&rows=24") -> AsyncIterator[ClientConnection]:
    ws_url = url.replace("http://", "ws://") + f"/terminal?{query}"
    async with connect(ws_url) as socket:
        yield socket


async def type_in(socket: ClientConnection, keys: str) -> None:
    await socket.send(json.dumps({"type": "input", "data": keys}))


async def read_until(socket: ClientConnection, pattern: str, seconds: float = 10) -> str:
    """Everything the terminal printed until `pattern` (a regex) shows up in it."""
    seen = b""
    async with asyncio.timeout(seconds):
        while not re.search(pattern, seen.decode(errors="replace")):
            frame = await socket.recv()
            assert isinstance(frame, bytes)
            seen += frame
    return seen.decode(errors="replace")


async def shell_pid(socket: ClientConnection) -> int:
    await type_in(socket, "echo PID=$$\r")
    return int(re.findall(r"PID=(\d+)", await read_until(socket, r"PID=\d+"))[0])


async def test_echo_hi(ship_url: str) -> None:
    async with terminal(ship_url) as socket:
        await read_until(socket, r"[$#] $")
        await type_in(socket, "echo hi\r")

        assert "echo hi\r\n" in await read_until(socket, r"\rhi\r\n")


async def test_runs_in_the_workspace_as_xterm(ship_url: str, workspace: Path) -> None:
    async with terminal(ship_url) as socket:
        await type_in(socket, 'echo "$TERM:$PWD"\r')

        output = await read_until(socket, r"xterm-256color:\S+\r\n")

    assert f"xterm-256color:{workspace}\r\n" in output


async def test_plain_text_frames_are_keystrokes(ship_url: str) -> None:
    """What xterm.js's attach add-on sends: each key as a bare text frame, no JSON."""
    async with terminal(ship_url) as socket:
        await read_until(socket, r"[$#] $")
        for key in "echo plain-$((40+2))\r":
            await socket.send(key)

        assert "plain-42\r\n" in await read_until(socket, r"\rplain-42\r\n")


async def test_binary_frames_and_json_that_is_no_frame_are_keystrokes(ship_url: str) -> None:
    async with terminal(ship_url) as socket:
        await read_until(socket, r"[$#] $")
        await socket.send(b"echo '")
        await socket.send('{"a": 1}')
        await socket.send(b"'\r")

        assert '\r{"a": 1}\r\n' in await read_until(socket, r'\r\{"a": 1\}\r\n')


async def test_size_and_resize(ship_url: str) -> None:
    async with terminal(ship_url, "cols=90&rows=30") as socket:
        await type_in(socket, "stty size\r")
        first = await read_until(socket, r"\r\d+ \d+\r\n")
        await socket.send(json.dumps({"type": "resize", "cols": 100, "rows": 40}))
        await type_in(socket, "stty size\r")
        second = await read_until(socket, r"\r40 100\r\n")

    assert "\r30 90\r\n" in first
    assert "\r40 100\r\n" in second


async def test_closing_kills_the_shell_and_its_jobs(ship_url: str) -> None:
    async with terminal(ship_url) as socket:
        pid = await shell_pid(socket)
        await type_in(socket, "sleep 1000 &\r")
        await type_in(socket, "echo JOB=$!\r")
        job = int(re.findall(r"JOB=(\d+)", await read_until(socket, r"JOB=\d+"))[0])

    assert is_gone(pid)
    assert is_gone(job)


async def test_socket_closes_when_the_shell_exits(ship_url: str) -> None:
    async with terminal(ship_url) as socket:
        await shell_pid(socket)
        await type_in(socket, "exit\r")

        with pytest.raises(ConnectionClosed):
            await read_until(socket, "never printed")


async def test_open_terminals_count_as_activity(ship_url: str) -> None:
    async with httpx.AsyncClient(base_url=ship_url) as client:
        async with terminal(ship_url) as socket:
            await shell_pid(socket)
            busy = (await client.get("/activity")).json()
        for _ in range(100):
            idle = (await client.get("/activity")).json()
            if idle["open_terminals"] == 0:
                break
            await asyncio.sleep(0.05)

    assert busy["open_terminals"] == 1
    assert idle["open_terminals"] == 0
