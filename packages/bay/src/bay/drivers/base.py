"""The Driver protocol and the value types that cross it."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from bay.egress.launch import Egress
from bay.egress.stats import Traffic
from shipyard_protocol.api import NetworkPolicy


class DriverError(Exception):
    """Base of every error a driver raises; drivers translate library errors into these."""


class DriverUnavailableError(DriverError):
    """The engine itself cannot be used (binary missing, daemon down)."""


class InstanceStartError(DriverError):
    """A session's instance could not be started or did not become ready."""


@dataclass(frozen=True)
class Labels:
    """What every resource a driver makes carries, so a restarted Bay can find it."""

    owner: str
    sandbox_id: str
    session_id: str
    cargo_id: str
    profile: str
    instance_id: str

    def as_dict(self, prefix: str = "bay.") -> dict[str, str]:
        return {
            f"{prefix}owner": self.owner,
            f"{prefix}sandbox_id": self.sandbox_id,
            f"{prefix}session_id": self.session_id,
            f"{prefix}cargo_id": self.cargo_id,
            f"{prefix}profile": self.profile,
            f"{prefix}instance_id": self.instance_id,
            f"{prefix}managed": "true",
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, str], prefix: str = "bay.") -> "Labels":
        return cls(
            owner=values[f"{prefix}owner"],
            sandbox_id=values[f"{prefix}sandbox_id"],
            session_id=values[f"{prefix}session_id"],
            cargo_id=values[f"{prefix}cargo_id"],
            profile=values[f"{prefix}profile"],
            instance_id=values[f"{prefix}instance_id"],
        )


@dataclass(frozen=True)
class Limits:
    """Compute limits from the profile; a driver enforces what its host allows."""

    cpus: float
    memory_bytes: int
    pids: int

    def tmpfs_bytes(self, configured: int) -> int:
        """The size of each sandbox tmpfs (/tmp, /dev/shm): `configured`, but at most half the
        memory, so filling one gives ENOSPC rather than an OOM kill of Ship and the kernel."""
        if self.memory_bytes <= 0:
            return configured
        return min(configured, self.memory_bytes // 2)


@dataclass(frozen=True)
class CargoSpec:
    """Storage to create for a cargo."""

    cargo_id: str
    owner: str
    size_limit_mb: int
    managed: bool


# Ship's switch for launching the browser before it says it is ready (warm sandboxes).
PRESTART_BROWSER = "SHIP_PRESTART_BROWSER"


@dataclass(frozen=True)
class BrowserSpec:
    """A browser runtime (Chromium driven by agent-browser) beside Ship in a session.

    The local driver runs it inside the sandbox's own walls (the sandbox's limits hold for
    both); Docker runs it in a sidecar container that shares the cargo and the network
    namespace and has `limits` of its own.
    """

    limits: Limits


@dataclass(frozen=True)
class SessionSpec:
    """Everything a driver needs to start one session of a sandbox."""

    labels: Labels
    cargo_ref: str
    limits: Limits
    env: Mapping[str, str] = field(default_factory=dict)
    egress: Egress = field(default_factory=lambda: Egress(NetworkPolicy()))
    image: str = "ship:latest"
    runtime: str | None = None
    browser: BrowserSpec | None = None


def network_env(egress: Egress) -> dict[str, str]:
    """What a sandbox's programs are told of its network: without one, pip and npm fail at once
    (no retries against an index they cannot reach) and pip's wrapper says why."""
    if not egress.offline:
        return {"SHIPYARD_NETWORK": egress.policy.egress}
    return {"SHIPYARD_NETWORK": "none", "PIP_NO_INDEX": "1", "NPM_CONFIG_OFFLINE": "true"}


@dataclass(frozen=True)
class CargoStorage:
    """A cargo's storage as the driver sees it, for the orphan-cargo GC."""

    cargo_id: str
    driver_ref: str
    created_at: float = field(default=0.0, metadata={"unit": "unix seconds"})


class InstanceState(StrEnum):
    """What a driver observes of an instance."""

    RUNNING = "running"
    EXITED = "exited"
    MISSING = "missing"


@dataclass(frozen=True)
class Instance:
    """A started session: the driver's handle and Ship's address.

    `endpoint` is `unix:/path/to/ship.sock` or `http://host:port`; a user part
    (`http://name@host:port`) names the session for its bearer token and is never sent.
    `browser_endpoint` is where the browser runtime's Ship answers (`/browser/*`): None
    without one, `endpoint` itself where the browser shares Ship's walls.
    """

    ref: str
    endpoint: str
    labels: Labels
    browser_endpoint: str | None = None


@dataclass(frozen=True)
class InstanceInfo:
    """An instance found by `list_instances`, for reconcile and GC."""

    ref: str
    state: InstanceState
    labels: Labels
    endpoint: str | None = None


@dataclass(frozen=True)
class Enforcement:
    """Which limits this driver can enforce on this host, logged at startup."""

    memory: bool
    pids: bool
    cpu: bool
    cargo_quota: bool
    notes: tuple[str, ...] = ()
    # The container runtimes a profile may ask for; None: whatever the engine has.
    runtimes: frozenset[str] | None = None


class Driver(Protocol):
    """How Bay makes cargos and sessions on one kind of infrastructure."""

    async def create_cargo(self, spec: CargoSpec) -> str:
        """Create storage for a cargo and return its `driver_ref`.

        Called by the cargo service when a sandbox or `POST /v1/cargos` makes a cargo.
        """
        ...

    async def delete_cargo(self, driver_ref: str) -> None:
        """Delete a cargo's storage; a missing one is not an error.

        Called when a managed cargo's sandbox is deleted, on `DELETE /v1/cargos/{id}` and by GC.
        """
        ...

    async def list_cargos(self) -> list[CargoStorage]:
        """Every cargo storage this driver holds. Called by the orphan-cargo GC."""
        ...

    async def start(self, spec: SessionSpec) -> Instance:
        """Start a session and return once Ship answers on its endpoint.

        Called by `ensure_running` only. Raises `InstanceStartError` and leaves nothing
        behind when the instance does not come up.
        """
        ...

    async def stop(self, ref: str) -> None:
        """Stop an instance and everything running in it; a missing one is not an error.

        Called by stop, delete, idle GC and reconcile.
        """
        ...

    async def inspect(self, ref: str) -> InstanceState:
        """Observe one instance. Called by `ensure_running` before it trusts a session row."""
        ...

    async def list_instances(self) -> list[InstanceInfo]:
        """Every instance this Bay instance owns. Called by reconcile at startup and by GC."""
        ...

    def ship_token(self, endpoint: str) -> str | None:
        """The bearer token Ship at `endpoint` wants, None where it wants none. Called by
        `ShipClient` for each endpoint it connects to."""
        ...

    def traffic(self, ref: str) -> Traffic | None:
        """A running instance's network traffic so far, None without a network. Called when
        a sandbox's detail is read."""
        ...

    def enforcement(self) -> Enforcement:
        """Which limits hold on this host. Called once at startup to log them."""
        ...

    async def close(self) -> None:
        """Release the driver's own resources (clients, sockets). Called at shutdown."""
        ...
