"""Bay's log lines: structlog over the standard library, JSON or console, and no secret in them.

Every line carries what the request or task bound (`request_id`, `owner`, `sandbox_id`,
`session_id`, `execution_id`). Lines from `logging.getLogger` (uvicorn's, Bay's own) pass through
the same processors, so one format and one redaction hold for all.
"""

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog
from structlog.typing import Processor

from bay.config import LoggingSettings

# A key as a query parameter (terminal clients, port links), a bearer header, or a bare key.
_SECRETS = (
    (re.compile(r"(token=)[^&\s\"']+"), r"\1[redacted]"),
    (re.compile(r"(Bearer\s+)[^\s\"',]+", re.IGNORECASE), r"\1[redacted]"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{6,}"), "sk-[redacted]"),
)


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def redact_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The last word before rendering: every string value, the message included."""
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = redact(value)
        elif isinstance(value, BaseException):
            event[key] = redact(repr(value))
    return event


def _shared() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def route_to_stdlib() -> None:
    """Until `configure` runs (an embedded Bay, the tests), structlog's lines go through the
    standard library's loggers like every other line, never straight to stdout."""
    if not structlog.is_configured():
        structlog.configure(
            processors=[*_shared()[:2], structlog.stdlib.render_to_log_kwargs],
            logger_factory=structlog.stdlib.LoggerFactory(),
            wrapper_class=structlog.stdlib.BoundLogger,
        )


def configure(settings: LoggingSettings | None = None, stream: TextIO | None = None) -> None:
    """Route every logger to `stream` (stderr) in the configured format (once, by the CLI)."""
    settings = settings or LoggingSettings()
    stream = stream or sys.stderr
    if settings.format == "json":
        final: list[Processor] = [
            structlog.processors.format_exc_info,
            redact_secrets,
            structlog.processors.JSONRenderer(),
        ]
    else:
        final = [redact_secrets, structlog.dev.ConsoleRenderer(colors=stream.isatty())]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(settings.level.upper())
    structlog.configure(
        processors=[*_shared(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    _take_back_server_loggers()
    # Alembic says "Context impl SQLiteImpl" and each revision it applies at INFO, on every
    # command; its warnings and errors still show.
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _take_back_server_loggers() -> None:
    """uvicorn's own logging config (when something applied it) gives its loggers their own
    handler and no propagation: they would bypass the format and the redaction."""
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers, logger.propagate = [], True
        logger.setLevel(logging.NOTSET)
