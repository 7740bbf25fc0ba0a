"""Streamed execs: events as protocol models, resumed across cuts, and executions by id.

Bay runs in-process; the fake driver's Ship answers a stream whole, so a `Cutting` transport
stands in for a network that drops it part way."""

from collections.abc import AsyncIterator
from typing import Literal

import httpx
import pytest

from shipyard import (
    AsyncClient,
    AsyncSandbox,
    CapabilityNotSupportedError,
    Client,
    NotFoundError,
    Retries,
    StreamInterruptedError,
)
from shipyard_protocol.ship import EndEvent, ExecEvent, OutputEvent, ResultEvent
from tests.unit.bay.conftest import ADMIN_KEY, Bay

NO_WAIT = Retries(attempts=2, backoff=0.0)
Cut = Literal["close", "error"]


class CutBody(httpx.AsyncByteStream):
    """The first `keep` events of a stream, then a clean close or a dropped connection."""

    def __init__(self, inner: httpx.AsyncByteStream, keep: int, how: Cut) -> None:
        self._inner = inner
        self._keep = keep
        self._how = how

    async def __aiter__(self) -> AsyncIterator[bytes]:
        body = b"".join([chunk async for chunk in self._inner])
        yield b"".join(frame + b"\n\n" for frame in body.split(b"\n\n")[: self._keep])
        if self._how == "error":
            raise httpx.RemoteProtocolError("peer closed connection")

    async def aclose(self) -> None:
        await self._inner.aclose()


class Cutting(httpx.AsyncBaseTransport):
    """Bay's transport, cutting the next event streams after `keeps[0]`, `keeps[1]`, …
    events (streams after those pass whole); `urls` are the streams asked for."""

    def __init__(self, inner: httpx.AsyncBaseTransport, keeps: list[int], how: Cut) -> None:
        self._inner = inner
        self._keeps = keeps
        self._how = how
        self.urls: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if "event-stream" not in response.headers.get("content-type", ""):
            return response
        self.urls.append(str(request.url))
        if not self._keeps:
            return response
        assert isinstance(response.stream, httpx.AsyncByteStream)
        body = CutBody(response.stream, self._keeps.pop(0), self._how)
        return httpx.Response(response.status_code, headers=response.headers, stream=body)


async def sandbox_behind(bay: Bay, transport: Cutting) -> tuple[AsyncClient, AsyncSandbox]:
    client = AsyncClient("http://bay", ADMIN_KEY, retries=NO_WAIT, transport=transport)
    return client, await client.sandboxes.create()


def cutting(bay: Bay, *keeps: int, how: Cut = "close") -> Cutting:
    return Cutting(bay.client._transport, list(keeps), how)


# Odd numbers on stdout, even ones on stderr: output of two kinds is two events or more
# however a busy machine batches the lines (the pauses make more of them likely), so a
# stream of it has at least three with its end, and a test may cut it after two.
COUNT = (
    "for i in 1 2 3 4 5; do if [ $((i % 2)) = 1 ]; then echo $i; else echo $i >&2; fi; "
    "sleep 0.05; done"
)
COUNTED = ("1\n3\n5\n", "2\n4\n")


def texts(events: list[ExecEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, OutputEvent))


def counted(events: list[ExecEvent]) -> tuple[str, str]:
    """What COUNT printed on stdout, and on stderr."""
    output = [e for e in events if isinstance(e, OutputEvent)]
    stdout = "".join(e.text for e in output if e.kind == "stdout")
    stderr = "".join(e.text for e in output if e.kind == "stderr")
    return stdout, stderr


class TestStream:
    async def test_shell_events_then_end(self, aclient: AsyncClient) -> None:
        sandbox = await aclient.sandboxes.create()
        async with sandbox.shell.stream("echo out; echo err >&2; exit 3") as stream:
            events = [event async for event in stream]
        assert [(e.kind, getattr(e, "text", None)) for e in events[:2]] == [
            ("stdout", "out\n"),
            ("stderr", "err\n"),
        ]
        assert isinstance(events[-1], EndEvent)
        assert (events[-1].exit_code, events[-1].success) == (3, False)
        assert stream.end == events[-1]
        assert stream.execution_id == events[0].execution_id
        assert stream.last_event_id == len(events)

    async def test_python_output_result_and_status(self, aclient: AsyncClient) -> None:
        sandbox = await aclient.sandboxes.create()
        events = [e async for e in sandbox.python.stream("print('a'); 6 * 7", tags=["t"])]
        result = next(e for e in events if isinstance(e, ResultEvent))
        assert (texts(events), result.text) == ("a\n", "42")
        status = await sandbox.executions.status(events[0].execution_id)
        assert (status.exec_type, status.success) == ("python", True)

    async def test_refusal_raises_bays_error(self, aclient: AsyncClient) -> None:
        sandbox = await aclient.sandboxes.create("python-only")
        with pytest.raises(CapabilityNotSupportedError):
            [e async for e in sandbox.shell.stream("true")]

    def test_sync_client_streams(self, client: Client) -> None:
        with client.sandboxes.create() as sandbox, sandbox.shell.stream(COUNT) as stream:
            events = list(stream)
        assert counted(events) == COUNTED
        assert stream.end is not None
        assert stream.end.exit_code == 0


class TestResume:
    @pytest.mark.parametrize("how", ["close", "error"])
    async def test_a_cut_stream_resumes_without_gap_or_duplicate(
        self, bay_app: Bay, how: Cut
    ) -> None:
        transport = cutting(bay_app, 1, 1, how=how)
        client, sandbox = await sandbox_behind(bay_app, transport)
        async with client:
            events = [e async for e in sandbox.shell.stream(COUNT)]
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert counted(events) == COUNTED
        assert [url.split("/")[-1] for url in transport.urls[1:]] == [
            "events?after=1",
            "events?after=2",
        ]

    async def test_gives_up_after_the_retries_without_progress(self, bay_app: Bay) -> None:
        transport = cutting(bay_app, 1, 1, 0, 0, 0)
        client, sandbox = await sandbox_behind(bay_app, transport)
        seen: list[ExecEvent] = []

        async def read() -> None:
            async for event in sandbox.shell.stream(COUNT):
                seen.append(event)

        async with client:
            with pytest.raises(StreamInterruptedError) as caught:
                await read()
        assert [e.seq for e in seen] == [1, 2]
        assert (caught.value.execution_id, caught.value.last_event_id) == (seen[0].execution_id, 2)
        assert len(transport.urls) == 4  # progress reset the count; then two empty resumes

    async def test_cut_before_the_first_event_is_not_repeated(self, bay_app: Bay) -> None:
        transport = cutting(bay_app, 0, how="error")
        client, sandbox = await sandbox_behind(bay_app, transport)
        async with client:
            with pytest.raises(httpx.RemoteProtocolError):
                [e async for e in sandbox.shell.stream("true")]
        assert len(transport.urls) == 1


class TestExecutions:
    async def test_status_and_events_after(self, aclient: AsyncClient) -> None:
        sandbox = await aclient.sandboxes.create()
        first = [e async for e in sandbox.shell.stream(COUNT)]
        execution_id = first[0].execution_id
        status = await sandbox.executions.status(execution_id)
        assert (status.status, status.exit_code, status.last_event_id) == (
            "finished",
            0,
            len(first),
        )
        later = [e async for e in sandbox.executions.events(execution_id, after=2)]
        assert later == first[2:]

    async def test_unknown_execution_raises_not_found(self, aclient: AsyncClient) -> None:
        sandbox = await aclient.sandboxes.create()
        await sandbox.shell.run("true")
        with pytest.raises(NotFoundError):
            [e async for e in sandbox.executions.events("exec-000000000000")]


class TestKernel:
    async def test_stream_after_stop_ends_saying_the_kernel_restarted(
        self, aclient: AsyncClient
    ) -> None:
        sandbox = await aclient.sandboxes.create()
        await sandbox.python.run("x = 1")
        await sandbox.stop()
        events = [e async for e in sandbox.python.stream("'x' in globals()")]
        again = [e async for e in sandbox.python.stream("1")]
        assert isinstance(events[-1], EndEvent)
        assert isinstance(again[-1], EndEvent)
        assert (events[-1].kernel_restarted, again[-1].kernel_restarted) == (True, False)

    async def test_restart_then_interrupt(self, aclient: AsyncClient) -> None:
        sandbox = await aclient.sandboxes.create()
        await sandbox.python.run("x = 1")
        restarted = await sandbox.python.restart()
        assert restarted.restarted is True
        after = await sandbox.python.run("x")
        assert (after.success, after.kernel_restarted) == (False, True)
        interrupted = await sandbox.python.interrupt()
        assert interrupted.restarted is False
        assert interrupted.kernel_generation == restarted.kernel_generation
