"""Bay's log lines: one format, and no secret in them.

A terminal client that cannot set headers authenticates with `?token=<API key>`; uvicorn logs
every request's path with its query string, so without this the key would sit in the log.
"""

import logging
import re

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


def configure() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for name in _SERVER_LOGGERS:
        logging.getLogger(name).addFilter(RedactTokens())
    # Alembic says "Context impl SQLiteImpl" and each revision it applies at INFO, on every
    # command; its warnings and errors still show.
    logging.getLogger("alembic").setLevel(logging.WARNING)
