"""History rows as durable records: written 'running' before Ship runs anything, completed
after, their long fields cut to head and tail, and pruned by the retention settings."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Executable, Table, bindparam, delete, exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession as DbSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from bay.db.models import Base, ExecutionHistory

MARKER = "\n…[{0} characters cut]…\n"
# Table statements, not ORM ones, for the writes of every execution: the same SQL for less
# Python (no unit of work, no ORM bulk-update evaluation).
HISTORY = cast(Table, ExecutionHistory.__table__)
_OPEN = insert(HISTORY)
# Built once; the columns set are the parameters' names (all but `row_id`).
_CLOSE = update(HISTORY).where(HISTORY.c.id == bindparam("row_id"), HISTORY.c.status == "running")
# Sessions remembered to have run Python here; an older one forgotten costs one query.
RECENT_SESSIONS = 4096


@dataclass(frozen=True)
class Retention:
    max_field_bytes: int = 64 * 1024
    max_rows_per_sandbox: int | None = 1000
    max_age_days: float | None = None


def fits(text: str, limit: int) -> bool:
    """Whether `text` is at most `limit` bytes of UTF-8; most texts are judged without
    encoding them, since a character takes at most 4 bytes."""
    return len(text) * 4 <= limit or len(text.encode("utf-8", "surrogatepass")) <= limit


def clip(text: str | None, limit: int) -> str | None:
    """`text` whole when it fits `limit` UTF-8 bytes, else its head and tail with a marker."""
    if text is None or fits(text, limit):
        return text
    keep = max(limit // 8, 1)  # characters, at most 4 bytes each: head + tail stay in `limit`
    cut = len(text) - 2 * keep
    return text[:keep] + MARKER.format(cut) + text[-keep:]


class Records:
    """Rows committed apart from the request's transaction, so a record outlives a crash: a
    row opens in the transaction that finds its session (`add`), completes in its own.

    On SQLite the writes take `turn`, the lock requests with writes take to commit (see
    `api.deps.get_db`), so a burst of executions does not fall into SQLite's busy polling.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[DbSession],
        retention: Retention,
        turn: asyncio.Lock | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._retention = retention
        self._turn = turn
        self._ran_python = _Recent(RECENT_SESSIONS)

    async def open(self, db: DbSession, row: Mapping[str, object]) -> None:
        """Open the row (its column values; what is left out takes its default) in the
        caller's transaction, the one that found the session ready, as one INSERT."""
        values = {key: value for key, value in row.items() if value is not None}
        if isinstance(code := values.get("code"), str):  # an opening row has no output yet
            values["code"] = clip(code, self._retention.max_field_bytes)
        await db.execute(_OPEN, {**values, "status": "running"})
        session_id = values.get("session_id")
        if values.get("exec_type") == "python" and isinstance(session_id, str):
            self._ran_python.add(session_id)

    async def close(
        self,
        execution_id: str,
        values: Mapping[str, object],
        also: Executable | None = None,
        rows: Sequence[Base] = (),
    ) -> None:
        """Complete the row if it is still running (a second close changes nothing); `also`
        (an idle lease moved on) and `rows` (a browser trace) are written in the same
        transaction."""
        limit = self._retention.max_field_bytes
        clipped = {k: clip(v, limit) if isinstance(v, str) else v for k, v in values.items()}
        async with self._writing() as db:
            db.add_all(rows)  # flushed at commit, after the UPDATE below (no foreign key)
            await db.execute(_CLOSE, {**clipped, "status": "finished", "row_id": execution_id})
            if also is not None:
                await db.execute(also)

    async def forget(self, execution_id: str) -> None:
        async with self._writing() as db:
            await db.execute(delete(HISTORY).where(HISTORY.c.id == execution_id))

    async def python_ran_before(self, db: DbSession, sandbox_id: str, session_id: str) -> bool:
        """Whether the sandbox ran Python in an earlier session, and not yet in `session_id`
        (known without a query once this process opened a Python row in the session)."""
        if session_id in self._ran_python:
            return False
        history = ExecutionHistory
        python = (history.sandbox_id == sandbox_id) & (history.exec_type == "python")
        earlier = exists().where(python, history.session_id != session_id)
        here = exists().where(python, history.session_id == session_id)
        return bool(await db.scalar(select(earlier & ~here)))

    @contextlib.asynccontextmanager
    async def _writing(self) -> AsyncIterator[DbSession]:
        turn = self._turn or contextlib.nullcontext()
        async with turn, self._sessionmaker() as db, db.begin():
            yield db

    async def running_before(self, cutoff: datetime) -> list[tuple[str, str]]:
        """`(execution_id, sandbox_id)` of rows still running that were opened before `cutoff`."""
        history = ExecutionHistory
        query = select(history.id, history.sandbox_id).where(
            history.status == "running", history.created_at < cutoff
        )
        async with self._sessionmaker() as db:
            return [(row[0], row[1]) for row in await db.execute(query)]

    async def prune(self, now: datetime) -> int:
        """Delete rows past the age limit, then past the row limit of each sandbox."""
        deleted = 0
        async with self._sessionmaker() as db, db.begin():
            if self._retention.max_age_days is not None:
                cutoff = now - timedelta(days=self._retention.max_age_days)
                old = await db.execute(
                    delete(ExecutionHistory).where(ExecutionHistory.created_at < cutoff)
                )
                deleted += _count(old)
            if self._retention.max_rows_per_sandbox is not None:
                deleted += await _trim(db, self._retention.max_rows_per_sandbox)
        return deleted


class _Recent:
    """A set of at most `size` strings that forgets the oldest first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: dict[str, None] = {}

    def __contains__(self, item: str) -> bool:
        return item in self._items

    def add(self, item: str) -> None:
        self._items[item] = None
        if len(self._items) > self._size:
            del self._items[next(iter(self._items))]


async def _trim(db: DbSession, keep: int) -> int:
    history = ExecutionHistory
    crowded = select(history.sandbox_id).group_by(history.sandbox_id)
    crowded = crowded.having(func.count() > keep)
    deleted = 0
    for sandbox_id in list(await db.scalars(crowded)):
        newest = (
            select(history.id)
            .where(history.sandbox_id == sandbox_id)
            .order_by(history.created_at.desc(), history.id.desc())
            .limit(keep)
        )
        result = await db.execute(
            delete(history).where(history.sandbox_id == sandbox_id, history.id.not_in(newest))
        )
        deleted += _count(result)
    return deleted


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
