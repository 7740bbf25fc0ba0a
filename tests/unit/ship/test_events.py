"""The event log on its own: sequence numbers, bounds, followers, backpressure."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ship.errors import EventsGoneError
from ship.events import EventLog, LogBounds
from shipyard_protocol.ship import EndEvent, OutputEvent


def write(log: EventLog, text: str) -> None:
    log.append(OutputEvent, kind="stdout", text=text)


def end(log: EventLog) -> None:
    log.append(EndEvent, success=True, duration_ms=1)


async def collect(stream: AsyncIterator[bytes]) -> list[dict[str, Any]]:
    return [json.loads(line) async for line in stream]


class TestAppend:
    async def test_seq_counts_from_one_and_end_is_last(self) -> None:
        log = EventLog("exec-1", LogBounds())
        write(log, "a")
        write(log, "b")
        end(log)
        write(log, "after the end")

        events = await collect(log.follow(0))

        assert [e["seq"] for e in events] == [1, 2, 3]
        assert [e["kind"] for e in events] == ["stdout", "stdout", "end"]
        assert {e["execution_id"] for e in events} == {"exec-1"}

    async def test_follow_from_the_middle(self) -> None:
        log = EventLog("exec-1", LogBounds())
        for text in "abcd":
            write(log, text)
        end(log)

        events = await collect(log.follow(2))

        assert [e["seq"] for e in events] == [3, 4, 5]


class TestBounds:
    async def test_without_followers_the_oldest_are_dropped(self) -> None:
        log = EventLog("exec-1", LogBounds(max_events=3))
        for text in "abcdef":
            write(log, text)
        end(log)

        with pytest.raises(EventsGoneError):
            log.follow(3)
        events = await collect(log.follow(4))

        assert [e["seq"] for e in events] == [5, 6, 7]

    async def test_one_event_larger_than_the_bound_is_kept(self) -> None:
        log = EventLog("exec-1", LogBounds(max_bytes=10))
        write(log, "x" * 100)

        assert log.follow(0) is not None


class TestBackpressure:
    async def test_a_lagging_follower_makes_the_log_full(self) -> None:
        log = EventLog("exec-1", LogBounds(max_events=4))
        stream = log.follow(0)
        for text in "abcde":
            write(log, text)

        full_before = log.full
        read = [json.loads(await anext(stream))["seq"] for _ in range(3)]
        full_after = log.full
        await stream.aclose()

        assert (full_before, read, full_after) == (True, [1, 2, 3], False)

    async def test_producer_waits_and_the_follower_misses_nothing(self) -> None:
        log = EventLog("exec-1", LogBounds(max_events=4))
        stream = log.follow(0)

        async def produce() -> None:
            for i in range(100):
                await log.put(OutputEvent, kind="stdout", text=str(i))
            end(log)

        producer = asyncio.create_task(produce())
        seen, lags = [], []
        async for line in stream:
            seen.append(json.loads(line)["seq"])
            lags.append(log.last_seq - seen[-1])
            await asyncio.sleep(0)
        await producer

        assert seen == list(range(1, 102))
        assert max(lags) <= 4

    async def test_a_stalled_follower_is_cut_loose(self) -> None:
        log = EventLog("exec-1", LogBounds(max_events=2, stall=0.05))
        stream = log.follow(0)
        for text in "abc":
            write(log, text)

        await asyncio.wait_for(log.wait_room(), 5)
        write(log, "d")

        assert not log.full
        assert [json.loads(line)["seq"] async for line in stream] == []

    async def test_a_stream_never_started_does_not_hold_the_log(self) -> None:
        log = EventLog("exec-1", LogBounds(max_events=2))
        log.follow(0)  # dropped at once, as when a client goes before its response starts
        for text in "abc":
            write(log, text)

        assert not log.full
