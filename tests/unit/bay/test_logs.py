"""Bay's log lines: JSON with the request's context bound, and never a key or token in them."""

import io
import json
import logging
import logging.config
from collections.abc import Iterator

import pytest
import structlog
import uvicorn.config
from structlog.contextvars import bound_contextvars

from bay import logs
from bay.config import LoggingSettings


def test_redact_hides_token_values_only() -> None:
    line = '127.0.0.1:5 - "WebSocket /v1/sandboxes/x/terminal?cols=80&token=sk-abc&rows=2"'
    assert logs.redact(line) == (
        '127.0.0.1:5 - "WebSocket /v1/sandboxes/x/terminal?cols=80&token=[redacted]&rows=2"'
    )


def test_redact_hides_bearer_headers_and_bare_keys() -> None:
    assert logs.redact("Authorization: Bearer abc.def") == "Authorization: Bearer [redacted]"
    assert logs.redact("key sk-bay-0123456789abcdef seen") == "key sk-[redacted] seen"


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    logs.configure(LoggingSettings(format="json"), stream)
    try:
        yield stream
    finally:
        root.handlers, root.level = handlers, level
        structlog.reset_defaults()


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_stdlib_and_structlog_lines_carry_the_bound_context(
    json_logs: io.StringIO,
) -> None:
    with bound_contextvars(request_id="r-1", sandbox_id="sandbox-1"):
        logging.getLogger("bay.test").warning("started %s", "sandbox-1")
        structlog.get_logger("bay.test").info("stopped", code=0)
    first, second = lines(json_logs)
    assert first["event"] == "started sandbox-1"
    assert (first["request_id"], first["sandbox_id"], first["level"]) == (
        "r-1",
        "sandbox-1",
        "warning",
    )
    assert (second["event"], second["code"], second["logger"]) == ("stopped", 0, "bay.test")
    assert second["sandbox_id"] == "sandbox-1"


def test_a_token_in_a_server_line_is_redacted(json_logs: io.StringIO) -> None:
    logging.getLogger("uvicorn.error").info('%s - "WebSocket %s"', "a", "/t?token=sk-123456789")
    (line,) = lines(json_logs)
    assert line["event"] == 'a - "WebSocket /t?token=[redacted]"'


def test_uvicorn_lines_reach_the_format_whatever_uvicorn_configured(
    json_logs: io.StringIO,
) -> None:
    """uvicorn's own logging config (an in-process server with `log_level`) gives its loggers a
    handler, a level and no propagation; `configure` takes them back."""
    logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG | {"disable_existing_loggers": False})
    logging.getLogger("uvicorn").setLevel(logging.WARNING)
    logs.configure(LoggingSettings(format="json"), json_logs)
    logging.getLogger("uvicorn.error").info("Started server process")
    logging.getLogger("uvicorn.access").info("GET /")
    assert [line["event"] for line in lines(json_logs)] == ["Started server process", "GET /"]
