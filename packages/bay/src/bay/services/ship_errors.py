"""Translate Ship's answers into Bay errors, at the one boundary where Bay calls Ship."""

from collections.abc import Iterator
from contextlib import contextmanager

from bay.errors import (
    ERRORS_BY_CODE,
    ShipError,
    ShipTimeoutError,
)
from bay.ship_client import ShipCallError, ShipTimedOutError


@contextmanager
def mapped_ship_errors() -> Iterator[None]:
    """Ship's file and quota errors keep their code; anything else becomes 502/504."""
    try:
        yield
    except ShipTimedOutError as exc:
        raise ShipTimeoutError(exc.message) from exc
    except ShipCallError as exc:
        error_class = ERRORS_BY_CODE.get(exc.code)
        if error_class is not None:
            raise error_class(exc.message, exc.details) from exc
        detail = f" ({exc.status})" if exc.status else ""
        raise ShipError(f"Ship request failed{detail}: {exc.message}") from exc
