"""A driver for unit tests only: Ship runs in-process behind an ASGI transport, no isolation."""

import shutil
from contextlib import AsyncExitStack
from pathlib import Path

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


class FakeDriver:
    """Sessions are Ship apps in this process; cargos are plain directories."""

    def __init__(self, data_dir: Path) -> None:
        self._cargo_root = data_dir / "fake-cargos"
        self.transports: dict[str, httpx.AsyncBaseTransport] = {}
        self._stacks: dict[str, AsyncExitStack] = {}
        self._labels: dict[str, Labels] = {}
        self._exited: set[str] = set()
        self.started: list[SessionSpec] = []

    async def create_cargo(self, spec: CargoSpec) -> str:
        path = self._cargo_root / spec.cargo_id
        path.mkdir(parents=True, exist_ok=True)
        return str(path)

    async def delete_cargo(self, driver_ref: str) -> None:
        shutil.rmtree(driver_ref, ignore_errors=True)

    async def list_cargos(self) -> list[CargoStorage]:
        if not self._cargo_root.exists():
            return []
        return [
            CargoStorage(path.name, str(path), path.stat().st_mtime)
            for path in sorted(self._cargo_root.iterdir())
        ]

    async def start(self, spec: SessionSpec) -> Instance:
        from ship.app import create_app
        from ship.config import ShipConfig
        from ship.kernel_process import KernelCommand

        limit = int(spec.env.get("SHIP_OUTPUT_LIMIT", 1024 * 1024))
        kernel = KernelCommand.from_env(spec.env)
        config = ShipConfig(workspace=Path(spec.cargo_ref), output_limit=limit, kernel=kernel)
        app = create_app(config)
        stack = AsyncExitStack()
        await stack.enter_async_context(app.router.lifespan_context(app))
        ref = spec.labels.session_id
        endpoint = f"fake:{ref}"
        self._stacks[ref] = stack
        self._labels[ref] = spec.labels
        self.transports[endpoint] = httpx.ASGITransport(app=app)
        self.started.append(spec)
        return Instance(ref=ref, endpoint=endpoint, labels=spec.labels)

    async def stop(self, ref: str) -> None:
        stack = self._stacks.pop(ref, None)
        self._labels.pop(ref, None)
        self._exited.discard(ref)
        self.transports.pop(f"fake:{ref}", None)
        if stack is not None:
            await stack.aclose()

    def crash(self, ref: str) -> None:
        """Simulate an instance dying behind Bay's back."""
        self._exited.add(ref)

    async def inspect(self, ref: str) -> InstanceState:
        if ref in self._exited:
            return InstanceState.EXITED
        return InstanceState.RUNNING if ref in self._stacks else InstanceState.MISSING

    async def list_instances(self) -> list[InstanceInfo]:
        return [
            InstanceInfo(ref=ref, state=await self.inspect(ref), labels=labels)
            for ref, labels in self._labels.items()
        ]

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
