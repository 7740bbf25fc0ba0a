"""A key passed as `?token=` never reaches Bay's log."""

import logging

from bay.logs import RedactTokens, formatter, redact


def test_redact_hides_token_values_only() -> None:
    line = '127.0.0.1:5 - "WebSocket /v1/sandboxes/x/terminal?cols=80&token=sk-abc&rows=2"'
    assert redact(line) == (
        '127.0.0.1:5 - "WebSocket /v1/sandboxes/x/terminal?cols=80&token=[redacted]&rows=2"'
    )


def test_the_filter_redacts_a_records_arguments() -> None:
    record = logging.LogRecord(
        "uvicorn.error", logging.INFO, "", 0, '%s - "WebSocket %s"', ("a", "/t?token=sk-1"), None
    )
    assert RedactTokens().filter(record)
    assert record.getMessage() == 'a - "WebSocket /t?token=[redacted]"'


def test_lines_start_with_the_time_in_utc_with_z() -> None:
    record = logging.LogRecord("bay", logging.WARNING, "", 0, "hello", None, None)
    record.created, record.msecs = 0.5, 500.0
    assert formatter().format(record) == "1970-01-01T00:00:00.500Z WARNING bay hello"
