"""Ship's own log records wait in a bounded buffer until Bay drains them."""

import logging

import httpx

from ship.log_buffer import LogBuffer


def record(message: str, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord("ship.test", level, "", 0, message, None, None)


def test_drain_returns_the_lines_once_oldest_first() -> None:
    buffer = LogBuffer()
    buffer.emit(record("first"))
    buffer.emit(record("second", logging.WARNING))
    drained = buffer.drain()
    assert [(line.message, line.level) for line in drained.lines] == [
        ("first", "info"),
        ("second", "warning"),
    ]
    assert buffer.drain().lines == []


def test_a_full_buffer_drops_the_oldest_and_counts_them() -> None:
    buffer = LogBuffer(limit=2, line_chars=5)
    for message in ("one", "two", "three-and-more"):
        buffer.emit(record(message))
    drained = buffer.drain()
    assert [line.message for line in drained.lines] == ["two", "three"]
    assert drained.dropped == 1


async def test_the_app_serves_the_drain(client: httpx.AsyncClient) -> None:
    response = await client.post("/logs/drain")
    assert response.status_code == 200
    assert response.json() == {"lines": [], "dropped": 0}
