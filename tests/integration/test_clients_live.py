"""The SDK and the CLI against a real Bay on the local driver: live streams, resuming, kernel
interrupts and the terminal (the fake driver answers streams whole and has no terminals)."""

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from websockets.sync.client import ClientConnection, connect

from shipyard import AsyncClient, Client, Sandbox
from shipyard_protocol.ship import EndEvent, ErrorEvent, ExecEvent, OutputEvent
from tests.bay_process import API_KEY, BayProcess, local_driver_missing, traversable_tmp

pytestmark = [pytest.mark.local]
SKIP_REASON = local_driver_missing()
if SKIP_REASON:
    pytestmark.append(pytest.mark.skip(reason=SKIP_REASON))

CONFIG = {"streaming": {"heartbeat_seconds": 0.5}}
SHIPYARD = str(Path(sys.executable).with_name("shipyard"))
TICKS = "for i in 1 2 3; do echo $i; sleep 0.5; done"


@pytest.fixture(scope="module")
def bay() -> Iterator[BayProcess]:
    with traversable_tmp() as base:
        server = BayProcess(base / "data", CONFIG)
        server.start()
        yield server
        with Client(server.url, API_KEY) as client:
            for item in client.sandboxes.list(limit=200).items:
                client.sandboxes.get(item.id).delete()
        server.stop()


@pytest.fixture(scope="module")
def client(bay: BayProcess) -> Iterator[Client]:
    with Client(bay.url, API_KEY) as sync_client:
        yield sync_client


@pytest.fixture(scope="module")
def sandbox(client: Client) -> Sandbox:
    return client.sandboxes.create()


def cli(bay: BayProcess, *args: str, **options: object) -> "subprocess.Popen[bytes]":
    env = dict(os.environ, SHIPYARD_ENDPOINT=bay.url, SHIPYARD_API_KEY=API_KEY)
    return subprocess.Popen([SHIPYARD, *args], env=env, **options)  # type: ignore[call-overload, no-any-return]


def stdout_text(events: list[ExecEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, OutputEvent) and e.kind == "stdout")


class TestStreams:
    def test_events_arrive_as_they_happen(self, sandbox: Sandbox) -> None:
        arrivals: list[tuple[float, ExecEvent]] = []
        for event in sandbox.shell.stream(TICKS):
            arrivals.append((time.monotonic(), event))
        assert stdout_text([e for _, e in arrivals]) == "1\n2\n3\n"
        assert arrivals[2][0] - arrivals[0][0] > 0.8
        assert isinstance(arrivals[-1][1], EndEvent)

    def test_heartbeats_keep_a_short_read_timeout_alive(self, bay: BayProcess) -> None:
        with Client(bay.url, API_KEY, timeout=1.5) as impatient:
            sandbox = impatient.sandboxes.create()
            sandbox.shell.run("true")  # start the session within the default timeout
            events = list(sandbox.shell.stream("sleep 3; echo done"))
            sandbox.delete()
        assert stdout_text(events) == "done\n"

    async def test_leave_then_pick_up_by_execution_id(
        self, bay: BayProcess, sandbox: Sandbox
    ) -> None:
        async with AsyncClient(bay.url, API_KEY) as client:
            handle = await client.sandboxes.get(sandbox.id)
            async with handle.shell.stream(TICKS) as stream:
                first = await anext(stream)
            assert stream.execution_id is not None
            events = handle.executions.events(stream.execution_id, after=stream.last_event_id)
            rest = [event async for event in events]
        assert stdout_text([first, *rest]) == "1\n2\n3\n"
        assert [e.seq for e in [first, *rest]] == list(range(1, len(rest) + 2))

    async def test_interrupt_ends_a_python_run(self, bay: BayProcess, sandbox: Sandbox) -> None:
        async with AsyncClient(bay.url, API_KEY) as client:
            handle = await client.sandboxes.get(sandbox.id)
            stream = handle.python.stream("print('go', flush=True)\nwhile True: pass", timeout=60)
            events = [await anext(stream)]
            await handle.python.interrupt()
            events += [event async for event in stream]
        error = next(e for e in events if isinstance(e, ErrorEvent))
        assert error.error.name == "KeyboardInterrupt"
        assert stream.end is not None
        assert stream.end.success is False


class TestTerminal:
    def test_sync_terminal_echoes_resizes_and_exits(self, sandbox: Sandbox) -> None:
        with sandbox.terminal(100, 30) as terminal:
            terminal.send("echo hi-$((40+2))\r")
            assert b"hi-42" in read_terminal(terminal.recv, b"hi-42")
            terminal.resize(120, 40)
            terminal.send("stty size\r")
            assert b"40 120" in read_terminal(terminal.recv, b"40 120")
            terminal.send("exit\r")
            while terminal.recv(timeout=20):
                pass

    async def test_async_terminal_ends_when_the_shell_exits(
        self, bay: BayProcess, sandbox: Sandbox
    ) -> None:
        async with AsyncClient(bay.url, API_KEY) as client:
            handle = await client.sandboxes.get(sandbox.id)
            async with handle.terminal() as terminal:
                await terminal.send("echo hi-$((40+2)); exit\r")
                output = b"".join([chunk async for chunk in terminal])
        assert b"hi-42" in output

    def test_closing_from_the_sdk_logs_no_error_in_bay(
        self, bay: BayProcess, sandbox: Sandbox
    ) -> None:
        sandbox.shell.run("true")  # a running session: the race is in the close alone
        logged = bay.log.stat().st_size
        for _ in range(3):
            with sandbox.terminal() as terminal:
                terminal.send("echo open-$((40+2))\r")
                read_terminal(terminal.recv, b"open-42")
        # Bay notices each close at once; a log line for it would follow within moments.
        time.sleep(1)
        with bay.log.open() as log:
            log.seek(logged)
            after = log.read()
        assert "Traceback" not in after, after
        assert " ERROR " not in after, after

    def test_plain_keystroke_frames_through_bay(self, bay: BayProcess, sandbox: Sandbox) -> None:
        """xterm.js's attach add-on sends every key as a bare text frame."""
        url = f"{bay.url.replace('http', 'ws', 1)}/v1/sandboxes/{sandbox.id}/terminal"
        with connect(url, additional_headers={"Authorization": f"Bearer {API_KEY}"}) as socket:
            for key in "echo keys-$((40+2))\r":
                socket.send(key)
            assert b"keys-42\r\n" in read_terminal(recv_bytes(socket), b"keys-42\r\n")


def recv_bytes(socket: ClientConnection) -> Callable[[float], bytes]:
    def recv(timeout: float) -> bytes:
        frame = socket.recv(timeout)
        return frame if isinstance(frame, bytes) else frame.encode()

    return recv


def read_terminal(recv: Callable[[float], bytes], pattern: bytes) -> bytes:
    seen = b""
    while pattern not in seen:
        chunk = recv(20)
        assert chunk, seen
        seen += chunk
    return seen


class TestCliExec:
    def test_shell_output_is_printed_live(self, bay: BayProcess, sandbox: Sandbox) -> None:
        """Line 2 waits for a file the test makes only once it has read line 1: output held
        back until the end would leave the read waiting (no timing to go wrong under load)."""
        command = "echo 1; until [ -e go ]; do sleep 0.05; done; echo 2; exit 4"
        with cli(
            bay, "exec", "shell", "-s", sandbox.id, command, stdout=subprocess.PIPE
        ) as process:
            assert process.stdout is not None
            first = read_pty(process.stdout.fileno(), rb"\n", timeout=60)
            sandbox.shell.run("touch go")
            rest = read_pty(process.stdout.fileno(), rb"2\n", timeout=60)
            assert process.wait(timeout=60) == 4
        assert (first, rest) == (b"1\n", b"2\n")

    def test_ctrl_c_interrupts_the_kernel(self, bay: BayProcess, sandbox: Sandbox) -> None:
        code = "print('go', flush=True)\nwhile True: pass"
        args = ("exec", "python", "-s", sandbox.id, code, "--timeout", "60")
        with cli(bay, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
            assert process.stdout is not None
            assert process.stdout.readline() == b"go\n"
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=30)
        assert process.returncode == 1
        assert b"KeyboardInterrupt" in stderr


class TestCliTerminal:
    def test_interactive_session_in_a_pty(self, bay: BayProcess, sandbox: Sandbox) -> None:
        master, slave = pty.openpty()
        before = termios.tcgetattr(slave)
        try:
            with cli(bay, "terminal", "-s", sandbox.id, stdin=slave, stdout=slave) as process:
                try:
                    os.write(master, b"echo hi-$((40+2))\r")  # typed ahead of the session
                    read_pty(master, rb"hi-42")
                    assert termios.tcgetattr(slave) != before  # raw mode while inside
                    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
                    process.send_signal(signal.SIGWINCH)
                    assert window_seen(master, b"33 111")
                    os.write(master, b"exit\r")
                    assert process.wait(timeout=30) == 0
                finally:
                    process.kill()
            assert termios.tcgetattr(slave) == before
        finally:
            os.close(master)
            os.close(slave)

    def test_piped_input_is_typed_then_ends(self, bay: BayProcess, sandbox: Sandbox) -> None:
        pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE}
        with cli(bay, "terminal", "-s", sandbox.id, **pipes) as process:
            output, _ = process.communicate(b"echo hi-$((40+2))\n", timeout=30)
        assert process.returncode == 0
        assert output.endswith(b"logout\r\n")
        assert b"hi-42\r\n" in output

    @pytest.mark.parametrize("source", ["file", "devnull"])
    def test_input_from_a_file_or_devnull_is_typed_then_ends(
        self, bay: BayProcess, sandbox: Sandbox, tmp_path: Path, source: str
    ) -> None:
        """epoll cannot watch a file or /dev/null (EPERM): a script's `< input.txt`, cron."""
        typed = tmp_path / "input.txt"
        typed.write_bytes(b"echo hi-$((40+2))\n")
        stdin = typed if source == "file" else Path(os.devnull)
        with (
            stdin.open("rb") as given,
            cli(bay, "terminal", "-s", sandbox.id, stdin=given, stdout=subprocess.PIPE) as process,
        ):
            output, _ = process.communicate(timeout=30)
        assert process.returncode == 0, output
        assert output.endswith(b"logout\r\n")
        assert (b"hi-42\r\n" in output) == (source == "file")


def window_seen(master: int, size: bytes) -> bool:
    """Whether `stty size` shows `size`; the window change races the typed line, so a
    later line may be the first to see it."""
    for _ in range(20):
        os.write(master, b"stty size\r")
        # Not anchored at a line start: the shell's echo of the typed line can run straight
        # into the answer ("stty size33 111") when the prompt is redrawn meanwhile.
        if size in read_pty(master, rb"\d+ \d+\r\n"):
            return True
    return False


def read_pty(fd: int, pattern: bytes, timeout: float = 20) -> bytes:
    """What the terminal showed, up to a match of `pattern`."""
    seen = b""
    deadline = time.monotonic() + timeout
    while not re.search(pattern, seen):
        left = deadline - time.monotonic()
        assert left > 0, seen
        if select.select([fd], [], [], left)[0]:
            seen += os.read(fd, 4096)
    return seen
