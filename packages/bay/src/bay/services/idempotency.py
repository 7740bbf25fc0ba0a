"""Atomic idempotency: the key is claimed before the work, and the answer is stored with it.

The claim is a row insert, so across replicas on one database exactly one request runs; a
claim whose replica run is gone (its lease ran out, or it restarted) is taken over at once.
"""

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession as DbSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from bay.config import IdempotencySettings
from bay.db.models import IdempotencyKey
from bay.errors import ConflictError
from bay.services import leases
from bay.services.clock import Clock

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
IN_PROGRESS = "in_progress"
DONE = "done"
WAIT_STEP_S = 0.05


@dataclass(frozen=True)
class Answer:
    """A JSON body and its status, exactly as first sent (replays are byte-identical)."""

    status: int
    body: str


def fingerprint(request: str, body: BaseModel | None) -> str:
    """sha256 of `METHOD:path:body`, the body re-serialised so defaults and order agree."""
    canonical = body.model_dump_json() if body is not None else ""
    return hashlib.sha256(f"{request}:{canonical}".encode()).hexdigest()


class IdempotencyService:
    def __init__(
        self,
        db: DbSession,
        sessionmaker: async_sessionmaker[DbSession],
        settings: IdempotencySettings,
        clock: Clock,
        holder: str,
    ) -> None:
        self._db = db
        self._sessionmaker = sessionmaker
        self._settings = settings
        self._clock = clock
        self._holder = holder  # this replica's run (SessionRuntime.holder)

    async def run(
        self,
        owner: str,
        key: str | None,
        request: str,
        body: BaseModel | None,
        status: int,
        operation: Callable[[], Awaitable[BaseModel]],
    ) -> Answer:
        """Run `operation` once per (owner, key); duplicates wait for and replay its answer.

        `request` is `METHOD:path`; with `body` it makes the fingerprint a replay must match.
        """
        if key is None or not self._settings.enabled:
            return Answer(status, (await operation()).model_dump_json())
        _check_format(key)
        print_ = fingerprint(request, body)
        replay = await self._claim(owner, key, print_)
        if replay is not None:
            return replay
        try:
            answer = Answer(status, (await operation()).model_dump_json())
        except BaseException:
            # Roll back first: on SQLite the request's own writes would hold the lock
            # the release needs.
            await self._db.rollback()
            await self._release(owner, key)
            raise
        await self._complete(owner, key, answer)
        return answer

    async def _claim(self, owner: str, key: str, print_: str) -> Answer | None:
        deadline = asyncio.get_running_loop().time() + self._settings.wait_s
        while True:
            if await self._insert(owner, key, print_):
                return None
            row = await self._read(owner, key)
            if row is None:
                continue
            if row.request_fingerprint != print_:
                raise _mismatch(key)
            if row.state == DONE and row.response_snapshot is not None:
                return Answer(row.status_code or 200, row.response_snapshot)
            if await self._take_over_if_stale(row):
                return None
            if asyncio.get_running_loop().time() > deadline:
                raise ConflictError(
                    "A request with this idempotency key is still in progress", {"key": key}
                )
            await asyncio.sleep(WAIT_STEP_S)

    async def _insert(self, owner: str, key: str, print_: str) -> bool:
        now = self._clock()
        async with self._sessionmaker() as db:
            await db.execute(
                delete(IdempotencyKey).where(
                    IdempotencyKey.owner == owner,
                    IdempotencyKey.key == key,
                    IdempotencyKey.expires_at < now,
                )
            )
            db.add(
                IdempotencyKey(
                    owner=owner,
                    key=key,
                    request_fingerprint=print_,
                    state=IN_PROGRESS,
                    instance_id=self._holder,
                    created_at=now,
                    expires_at=now + timedelta(hours=self._settings.ttl_hours),
                )
            )
            try:
                await db.commit()
            except IntegrityError:
                await db.rollback()
                return False
        return True

    async def _read(self, owner: str, key: str) -> IdempotencyKey | None:
        async with self._sessionmaker() as db:
            return await db.scalar(
                select(IdempotencyKey).where(
                    IdempotencyKey.owner == owner, IdempotencyKey.key == key
                )
            )

    async def _take_over_if_stale(self, row: IdempotencyKey) -> bool:
        now = self._clock()
        stale = now - timedelta(seconds=self._settings.abandon_after_s)
        if row.created_at >= stale and not await self._holder_gone(row, now):
            return False
        async with self._sessionmaker() as db, db.begin():
            result = await db.execute(
                update(IdempotencyKey)
                .where(
                    IdempotencyKey.owner == row.owner,
                    IdempotencyKey.key == row.key,
                    IdempotencyKey.state == IN_PROGRESS,
                    IdempotencyKey.created_at == row.created_at,
                )
                .values(created_at=now, instance_id=self._holder)
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def _holder_gone(self, row: IdempotencyKey, now: datetime) -> bool:
        if row.instance_id is None or row.instance_id == self._holder:
            return False
        async with self._sessionmaker() as db:
            return row.instance_id not in await leases.live_runs(db, now)

    async def _complete(self, owner: str, key: str, answer: Answer) -> None:
        """Stored in the request's own transaction, so the answer commits with the work."""
        await self._db.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.owner == owner, IdempotencyKey.key == key)
            .values(state=DONE, response_snapshot=answer.body, status_code=answer.status)
        )

    async def _release(self, owner: str, key: str) -> None:
        async with self._sessionmaker() as db, db.begin():
            await db.execute(
                delete(IdempotencyKey).where(
                    IdempotencyKey.owner == owner,
                    IdempotencyKey.key == key,
                    IdempotencyKey.state == IN_PROGRESS,
                )
            )


def _check_format(key: str) -> None:
    if not KEY_PATTERN.match(key):
        raise ConflictError("Idempotency-Key must match ^[A-Za-z0-9_-]{1,128}$", {"key": key})


def _mismatch(key: str) -> ConflictError:
    return ConflictError(
        "Idempotency key already used with different request parameters",
        {"key": key, "hint": "use a new key for a different request"},
    )
