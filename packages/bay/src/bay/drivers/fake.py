"""A driver for unit tests only: Ship runs in this process, no isolation, served by uvicorn on
a Unix socket as in a sandbox, so Bay reaches it by its production client."""

import hashlib
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import uvicorn

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


# A socket's path has room for 107 bytes; a session's file name takes 23 of them.
MAX_SOCKET_DIR = 80


@dataclass
class _Served:
    """One session's Ship: uvicorn's server, without its signal handling and polling loop."""

    server: uvicorn.Server
    listening: socket.socket
    path: Path

    @classmethod
    async def start(cls, app: object, path: Path) -> "_Served":
        from shipyard_protocol.ship import KEEP_ALIVE_S

        config = uvicorn.Config(
            app,  # type: ignore[arg-type]
            log_config=None,
            access_log=False,
            timeout_keep_alive=KEEP_ALIVE_S,
        )
        config.load()
        listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listening.bind(str(path))
        server = uvicorn.Server(config)
        # What `Server.serve` does, less its signal handlers and its 0.1 s polling loop.
        server.lifespan = config.lifespan_class(config)
        try:
            await server.startup(sockets=[listening])
        except SystemExit as exc:  # uvicorn's answer to an app whose startup failed
            listening.close()
            raise RuntimeError(f"Ship did not start on {path}") from exc
        return cls(server, listening, path)

    def refuse(self) -> None:
        """Stop listening and drop every connection, as a dead instance's socket does."""
        for server in self.server.servers:
            server.close()
        self.listening.close()
        for connection in list(self.server.server_state.connections):
            connection.shutdown()
        self.path.unlink(missing_ok=True)

    async def end(self) -> None:
        self.refuse()
        for task in list(self.server.server_state.tasks):
            task.cancel()
        await self.server.lifespan.shutdown()


class FakeDriver:
    """Sessions are Ship apps in this process; cargos are plain directories."""

    def __init__(self, data_dir: Path) -> None:
        # The real drivers' cargo store, as plain directories: no quota, no owner to give them.
        self._store = CargoStore(data_dir, owner_uid=None, want_quota=False)
        self._sockets = self.sockets(data_dir)
        self._sockets.mkdir(parents=True, exist_ok=True)
        self._served: dict[str, _Served] = {}
        self._labels: dict[str, Labels] = {}
        self._exited: set[str] = set()
        self.started: list[SessionSpec] = []
        # Each session's lease from Bay (SHIP_ORPHAN_AFTER_S), on a clock tests may replace;
        # nothing here ends a session whose lease ran out.
        self.leases: dict[str, BayLease] = {}
        self.lease_clock: Callable[[], float] = time.monotonic

    @staticmethod
    def sockets(data_dir: Path) -> Path:
        """Where Ships listen: under the data dir, or, where that path is too long for a
        socket's, a short one under the temp dir named after it (the same for every call)."""
        under = data_dir / "ships"
        if len(str(under)) <= MAX_SOCKET_DIR:
            return under
        digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"fake-ships-{digest}"

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
        config = ShipConfig(
            workspace=Path(spec.cargo_ref),
            output_limit=limit,
            kernel=kernel,
            sandbox_id=spec.env.get("SHIP_SANDBOX_ID"),
        )
        ref = spec.labels.session_id
        lease = self._lease(ref, spec.env.get("SHIP_ORPHAN_AFTER_S"))
        path = self._sockets / f"{ref}.sock"
        self._served[ref] = await _Served.start(create_app(config, None, lease), path)
        self._labels[ref] = spec.labels
        self.started.append(spec)
        endpoint = f"unix:{path}"
        browser = endpoint if spec.browser else None  # the same Ship serves /browser/*
        return Instance(ref=ref, endpoint=endpoint, labels=spec.labels, browser_endpoint=browser)

    def _lease(self, ref: str, after: str | None) -> "BayLease | None":
        from ship.bay_lease import BayLease

        if after is None:
            return None
        self.leases[ref] = BayLease(float(after), self.lease_clock)
        return self.leases[ref]

    async def stop(self, ref: str) -> None:
        self.leases.pop(ref, None)
        served = self._served.pop(ref, None)
        self._labels.pop(ref, None)
        self._exited.discard(ref)
        if served is not None:
            await served.end()

    def crash(self, ref: str) -> None:
        """Simulate an instance dying behind Bay's back: its Ship refuses connections."""
        self._exited.add(ref)
        self.refuse(ref)

    def refuse(self, ref: str) -> None:
        """Ship stops answering while the instance still runs as far as the driver knows."""
        served = self._served.get(ref)
        if served is not None:
            served.refuse()

    async def inspect(self, ref: str) -> InstanceState:
        if ref in self._exited:
            return InstanceState.EXITED
        return InstanceState.RUNNING if ref in self._served else InstanceState.MISSING

    async def list_instances(self) -> list[InstanceInfo]:
        return [
            InstanceInfo(ref=ref, state=await self.inspect(ref), labels=labels)
            for ref, labels in self._labels.items()
        ]

    def ship_token(self, endpoint: str) -> str | None:
        return None  # a socket only this process knows: nothing to authenticate

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
        for ref in list(self._served):
            await self.stop(ref)
        shutil.rmtree(self._sockets, ignore_errors=True)
