"""A key passed as `?token=` never reaches Bay's log."""

import logging

from bay.logs import RedactTokens, redact


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
