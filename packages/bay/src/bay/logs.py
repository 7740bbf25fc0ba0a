"""Bay's log lines: one format, and no secret in them.

A terminal client that cannot set headers authenticates with `?token=<API key>`; uvicorn logs
every request's path with its query string, so without this the key would sit in the log.
"""

import logging
import re
import time

_TOKEN = re.compile(r"(token=)[^&\s\"']+")
_SERVER_LOGGERS = ("uvicorn.error", "uvicorn.access")


def redact(text: str) -> str:
    return _TOKEN.sub(r"\1[redacted]", text)


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def formatter() -> logging.Formatter:
    """Lines that start with the time in UTC as RFC 3339 (`2026-12-07T01:35:14.621Z`)."""
    utc = logging.Formatter(
        "%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s %(message)s", "%Y-%m-%dT%H:%M:%S"
    )
    utc.converter = time.gmtime
    return utc


def configure() -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(formatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    for name in _SERVER_LOGGERS:
        logging.getLogger(name).addFilter(RedactTokens())
    # Alembic says "Context impl SQLiteImpl" and each revision it applies at INFO, on every
    # command; its warnings and errors still show.
    logging.getLogger("alembic").setLevel(logging.WARNING)
