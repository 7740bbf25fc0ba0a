"""A driver for unit tests only: Ship runs in-process behind an ASGI transport, no isolation."""

import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from bay.drivers.base import (
    CargoSpec,
    CargoStorage,
    Enforcement,
    Instance,
    InstanceInfo,
    InstanceState,
    Labels,
    SessionSpec,
)
from bay.drivers.cargo_store import CargoStore
from bay.egress.stats import Traffic

if TYPE_CHECKING:
    from ship.bay_lease import BayLease


class _ShipTransport(httpx.AsyncBaseTransport):
    """The in-process Ship, until its instance crashes: then no connection, as a dead one."""

    def __init__(self, app: object) -> None:
        self._app = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        self.crashed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.crashed:
            raise httpx.ConnectError("connection refused", request=request)
        return await self._app.handle_async_request(request)


class FakeDriver:
    """Sessions are Ship apps in this process; cargos are plain directories."""

    def __init__(self, data_dir: Path) -> None:
        # The real drivers' cargo store, as plain directories: no quota, no owner to give them.
        self._store = CargoStore(data_dir, owner_uid=None, want_quota=False)
        self.transports: dict[str, httpx.AsyncBaseTransport] = {}
        self._stacks: dict[str, AsyncExitStack] = {}
        self._labels: dict[str, Labels] = {}
        self._exited: set[str] = set()
        self.started: list[SessionSpec] = []
        # Each session's lease from Bay (SHIP_ORPHAN_AFTER_S), on a clock tests may replace;
        # nothing here ends a session whose lease ran out.
        self.leases: dict[str, BayLease] = {}
        self.lease_clock: Callable[[], float] = time.monotonic

    async def create_cargo(self, spec: CargoSpec) -> str:
        self._store.root.mkdir(parents=True, exist_ok=True)
        return await self._store.create_cargo(spec)

    async def delete_cargo(self, driver_ref: str) -> None:
        await self._store.delete_cargo(driver_ref)

    async def list_cargos(self) -> list[CargoStorage]:
        return await self._store.list_cargos()

    async def start(self, spec: SessionSpec) -> Instance:
        from ship.app import create_app
        from ship.config import ShipConfig
        from ship.kernel_process import KernelCommand

        limit = int(spec.env.get("SHIP_OUTPUT_LIMIT", 1024 * 1024))
        kernel = KernelCommand.from_env(spec.env)
        config = ShipConfig(workspace=Path(spec.cargo_ref), output_limit=limit, kernel=kernel)
        ref = spec.labels.session_id
        lease = self._lease(ref, spec.env.get("SHIP_ORPHAN_AFTER_S"))
        app = create_app(config, None, lease)
        stack = AsyncExitStack()
        await stack.enter_async_context(app.router.lifespan_context(app))
        endpoint = f"fake:{ref}"
        self._stacks[ref] = stack
        self._labels[ref] = spec.labels
        self.transports[endpoint] = _ShipTransport(app)
        self.started.append(spec)
        return Instance(ref=ref, endpoint=endpoint, labels=spec.labels)

    def _lease(self, ref: str, after: str | None) -> "BayLease | None":
        from ship.bay_lease import BayLease

        if after is None:
            return None
        self.leases[ref] = BayLease(float(after), self.lease_clock)
        return self.leases[ref]

    async def stop(self, ref: str) -> None:
        self.leases.pop(ref, None)
        stack = self._stacks.pop(ref, None)
        self._labels.pop(ref, None)
        self._exited.discard(ref)
        self.transports.pop(f"fake:{ref}", None)
        if stack is not None:
            await stack.aclose()

    def crash(self, ref: str) -> None:
        """Simulate an instance dying behind Bay's back: its Ship refuses connections."""
        self._exited.add(ref)
        transport = self.transports.get(f"fake:{ref}")
        if isinstance(transport, _ShipTransport):
            transport.crashed = True

    async def inspect(self, ref: str) -> InstanceState:
        if ref in self._exited:
            return InstanceState.EXITED
        return InstanceState.RUNNING if ref in self._stacks else InstanceState.MISSING

    async def list_instances(self) -> list[InstanceInfo]:
        return [
            InstanceInfo(ref=ref, state=await self.inspect(ref), labels=labels)
            for ref, labels in self._labels.items()
        ]

    def ship_token(self, endpoint: str) -> str | None:
        return None  # an in-process transport: nothing to authenticate

    def traffic(self, ref: str) -> Traffic | None:
        return None  # in-process Ship: no network of its own to count

    def enforcement(self) -> Enforcement:
        return Enforcement(
            memory=False,
            pids=False,
            cpu=False,
            cargo_quota=False,
            notes=("fake driver",),
            runtimes=frozenset(),  # Ship runs in this process: no runtime of any kind
        )

    async def close(self) -> None:
        for ref in list(self._stacks):
            await self.stop(ref)
