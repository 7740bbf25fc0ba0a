"""Cargos: the persistent /workspace volumes, managed (one sandbox) or external (shared)."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession as DbSession

from bay.db.models import Cargo, Sandbox
from bay.drivers.base import CargoSpec, Driver
from bay.errors import ConflictError, NotFoundError
from bay.services.clock import Clock
from bay.services.ids import new_id
from shipyard_protocol.api import Cargo as CargoOut
from shipyard_protocol.api import CargoList


class CargoService:
    def __init__(self, db: DbSession, driver: Driver, default_size_mb: int, clock: Clock) -> None:
        self._db = db
        self._driver = driver
        self._default_size_mb = default_size_mb
        self._clock = clock

    async def create(
        self, owner: str, size_limit_mb: int | None = None, managed_by: str | None = None
    ) -> Cargo:
        """Create storage first, then the row; the orphan-cargo GC reaps storage without a row."""
        cargo_id = new_id("ws")
        size = size_limit_mb or self._default_size_mb
        spec = CargoSpec(
            cargo_id=cargo_id, owner=owner, size_limit_mb=size, managed=bool(managed_by)
        )
        driver_ref = await self._driver.create_cargo(spec)
        now = self._clock()
        cargo = Cargo(
            id=cargo_id,
            owner=owner,
            driver_ref=driver_ref,
            managed=managed_by is not None,
            managed_by_sandbox_id=managed_by,
            size_limit_mb=size,
            created_at=now,
            last_accessed_at=now,
        )
        self._db.add(cargo)
        await self._db.flush()
        return cargo

    async def create_external(self, owner: str, size_limit_mb: int | None) -> CargoOut:
        """`POST /v1/cargos`: a shareable cargo that no sandbox deletion ever removes."""
        return cargo_out(await self.create(owner, size_limit_mb))

    async def get(self, owner: str, cargo_id: str) -> Cargo:
        cargo = await self._db.scalar(
            select(Cargo).where(Cargo.id == cargo_id, Cargo.owner == owner)
        )
        if cargo is None:
            raise NotFoundError(f"Cargo not found: {cargo_id}")
        return cargo

    async def page(
        self, owner: str, limit: int, cursor: str | None, managed: bool | None
    ) -> CargoList:
        """External cargos by default; `managed=true` lists the ones born with a sandbox."""
        query = select(Cargo).where(Cargo.owner == owner, Cargo.managed.is_(bool(managed)))
        if cursor:
            query = query.where(Cargo.id > cursor)
        rows = list(await self._db.scalars(query.order_by(Cargo.id).limit(limit + 1)))
        page = rows[:limit]
        next_cursor = page[-1].id if len(rows) > limit and page else None
        return CargoList(items=[cargo_out(row) for row in page], next_cursor=next_cursor)

    async def delete(self, owner: str, cargo_id: str) -> None:
        """Refuse while a live sandbox uses it (409), else remove storage and row."""
        cargo = await self.get(owner, cargo_id)
        if cargo.managed and cargo.managed_by_sandbox_id:
            manager = await self._db.get(Sandbox, cargo.managed_by_sandbox_id)
            if manager is not None and manager.deleted_at is None:
                raise ConflictError(
                    f"Cargo {cargo_id} is managed by a live sandbox",
                    {"managed_by_sandbox_id": cargo.managed_by_sandbox_id},
                )
        users = list(
            await self._db.scalars(
                select(Sandbox.id).where(Sandbox.cargo_id == cargo_id, Sandbox.deleted_at.is_(None))
            )
        )
        if users and not cargo.managed:
            raise ConflictError(
                f"Cargo {cargo_id} is in use by live sandboxes", {"active_sandbox_ids": users}
            )
        await self.destroy(cargo)

    async def destroy(self, cargo: Cargo) -> None:
        """Delete the storage, then the row."""
        await self._driver.delete_cargo(cargo.driver_ref)
        await self._db.delete(cargo)
        await self._db.flush()


def cargo_out(cargo: Cargo) -> CargoOut:
    return CargoOut(
        id=cargo.id,
        managed=cargo.managed,
        managed_by_sandbox_id=cargo.managed_by_sandbox_id,
        size_limit_mb=cargo.size_limit_mb,
        created_at=cargo.created_at,
        last_accessed_at=cargo.last_accessed_at,
    )
