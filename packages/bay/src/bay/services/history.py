"""Execution history: list with filters, the last one, one by id, and annotations."""

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession as DbSession

from bay.db.models import ExecutionHistory
from bay.errors import NotFoundError
from bay.services.execs import normalize_tags
from shipyard_protocol.api import ExecutionEntry, ExecutionList, ExecutionUpdate


class HistoryService:
    def __init__(self, db: DbSession) -> None:
        self._db = db

    async def page(
        self,
        owner: str,
        sandbox_id: str,
        exec_type: str | None = None,
        success_only: bool = False,
        limit: int = 100,
        offset: int = 0,
        tags: str | None = None,
        has_notes: bool = False,
        has_description: bool = False,
    ) -> ExecutionList:
        where = _filters(
            owner, sandbox_id, exec_type, success_only, tags, has_notes, has_description
        )
        total = await self._db.scalar(
            select(func.count()).select_from(ExecutionHistory).where(*where)
        )
        rows = await self._db.scalars(
            select(ExecutionHistory)
            .where(*where)
            .order_by(ExecutionHistory.created_at.desc(), ExecutionHistory.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return ExecutionList(entries=[entry_out(row) for row in rows], total=total or 0)

    async def last(self, owner: str, sandbox_id: str, exec_type: str | None) -> ExecutionEntry:
        listing = await self.page(owner, sandbox_id, exec_type=exec_type, limit=1)
        if not listing.entries:
            raise NotFoundError("No execution history found")
        return listing.entries[0]

    async def get(self, owner: str, sandbox_id: str, execution_id: str) -> ExecutionEntry:
        return entry_out(await self._row(owner, sandbox_id, execution_id))

    async def annotate(
        self, owner: str, sandbox_id: str, execution_id: str, update: ExecutionUpdate
    ) -> ExecutionEntry:
        row = await self._row(owner, sandbox_id, execution_id)
        if update.description is not None:
            row.description = update.description
        if update.tags is not None:
            row.tags = normalize_tags(update.tags)
        if update.notes is not None:
            row.notes = update.notes
        await self._db.flush()
        return entry_out(row)

    async def _row(self, owner: str, sandbox_id: str, execution_id: str) -> ExecutionHistory:
        row = await self._db.scalar(
            select(ExecutionHistory).where(
                ExecutionHistory.id == execution_id,
                ExecutionHistory.owner == owner,
                ExecutionHistory.sandbox_id == sandbox_id,
            )
        )
        if row is None:
            raise NotFoundError(f"Execution not found: {execution_id}")
        return row


def _filters(
    owner: str,
    sandbox_id: str,
    exec_type: str | None,
    success_only: bool,
    tags: str | None,
    has_notes: bool,
    has_description: bool,
) -> list[ColumnElement[bool]]:
    history = ExecutionHistory
    where = [history.owner == owner, history.sandbox_id == sandbox_id]
    if exec_type:
        where.append(history.exec_type == exec_type)
    if success_only:
        where.append(history.success.is_(True))
    wanted = normalize_tags(tags)
    if wanted:
        where.append(or_(*(history.tags.ilike(f"%{tag}%") for tag in wanted.split(","))))
    if has_notes:
        where.append(func.coalesce(history.notes, "") != "")
    if has_description:
        where.append(func.coalesce(history.description, "") != "")
    return where


def entry_out(row: ExecutionHistory) -> ExecutionEntry:
    return ExecutionEntry(
        id=row.id,
        session_id=row.session_id,
        exec_type=row.exec_type,
        code=row.code,
        success=row.success,
        execution_time_ms=row.execution_time_ms,
        output=row.output,
        error=row.error,
        payload_ref=row.payload_ref,
        description=row.description,
        tags=row.tags,
        notes=row.notes,
        learn_enabled=row.learn_enabled,
        learn_status=row.learn_status,
        learn_error=row.learn_error,
        learn_processed_at=row.learn_processed_at,
        created_at=row.created_at,
        status="running" if row.status == "running" else "finished",
    )
