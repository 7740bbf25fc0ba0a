"""The container-IP channel: Bay's sandbox networks, Ship's TCP address on them, readiness."""

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiodocker
import httpx

from bay.config import DockerDriverSettings
from bay.drivers.base import InstanceStartError

SHIP_PORT = 8123
# The browser sidecar's Ship shares the session container's network namespace: another port.
BROWSER_PORT = 8124
ICC_OPTION = "com.docker.network.bridge.enable_icc"
NETWORK_LABELS = {"bay.managed": "true", "bay.role": "sandboxes"}
_HEALTH_BACKOFF_S = (0.05, 1.0)  # first and largest pause between two /health tries


@dataclass(frozen=True)
class TcpChannel:
    """How one container's Ship listens: on `network`, checking tokens against `digest`."""

    network: str
    digest: str
    shared_run: bool  # the engine sees this host's files: the run dir (and ready file) work


def shares_files(settings: DockerDriverSettings) -> bool:
    """Whether the engine sees this host's run dirs, so Ship's ready file can be watched."""
    if settings.ready == "auto":
        return settings.url.startswith("unix://")
    return settings.ready == "file"


def ship_env(tcp: TcpChannel, port: int = SHIP_PORT) -> dict[str, str]:
    """Ship on TCP, with only the digest of its token: Ship drops that from its environment
    before starting anything, but the container's init process keeps it, readable in the
    sandbox."""
    return {
        "SHIP_SOCKET": "",  # the image names a socket; empty means TCP
        "SHIP_HOST": "0.0.0.0",  # noqa: S104 - the container's own address on Bay's network
        "SHIP_PORT": str(port),
        "SHIP_TOKEN_SHA256": tcp.digest,
    }


class SandboxNetworks:
    """Bay's bridge network for the TCP channel, made on first use and checked when it
    already exists: internal (no route out; a sandbox's egress passes its proxy) and with
    inter-container communication off, so a sandbox cannot reach another's Ship.
    """

    def __init__(self, settings: DockerDriverSettings) -> None:
        self._name = settings.network
        self._checked = False
        self._lock = asyncio.Lock()

    def names(self) -> tuple[str, ...]:
        return (self._name,)

    async def ensure(self, docker: aiodocker.Docker) -> str:
        """The network's name, once it exists as Bay made it."""
        async with self._lock:
            if not self._checked:
                check_network(self._name, await _found_or_made(docker, self._name))
                self._checked = True
        return self._name


def network_config(name: str) -> dict[str, Any]:
    return {
        "Name": name,
        "Driver": "bridge",
        "Internal": True,
        "CheckDuplicate": True,
        "Labels": NETWORK_LABELS,
        "Options": {ICC_OPTION: "false"},
    }


async def _found_or_made(docker: aiodocker.Docker, name: str) -> dict[str, Any]:
    try:
        return await _network(docker, name)
    except aiodocker.DockerError as exc:
        if exc.status != 404:
            raise
    try:
        await docker.networks.create(network_config(name))
    except aiodocker.DockerError as exc:
        if exc.status != 409:  # another Bay made it first: check theirs
            raise
    return await _network(docker, name)


async def _network(docker: aiodocker.Docker, name: str) -> dict[str, Any]:
    found: dict[str, Any] = await (await docker.networks.get(name)).show()
    return found


def check_network(name: str, found: Mapping[str, Any]) -> None:
    """Refuse a network of the same name that would let sandboxes reach each other or out."""
    labels = found.get("Labels") or {}
    options = found.get("Options") or {}
    problems = [
        "not labelled as Bay's" if labels.get("bay.managed") != "true" else "",
        "not a bridge" if found.get("Driver") != "bridge" else "",
        "inter-container traffic on" if options.get(ICC_OPTION) != "false" else "",
        "not internal" if found.get("Internal") is not True else "",
    ]
    if any(problems):
        wrong = ", ".join(problem for problem in problems if problem)
        raise InstanceStartError(f"docker network {name} exists but is {wrong}; remove it")


def container_ip(container: Mapping[str, Any], networks: tuple[str, ...]) -> str | None:
    """The container's address on one of Bay's networks (inspect or list answer), if any."""
    attached = (container.get("NetworkSettings") or {}).get("Networks") or {}
    for name in networks:
        address = (attached.get(name) or {}).get("IPAddress")
        if address:
            return str(address)
    return None


def on_network(container: Mapping[str, Any], networks: tuple[str, ...]) -> bool:
    return (container.get("HostConfig") or {}).get("NetworkMode") in networks


def tcp_endpoint(session_id: str, ip: str, port: int = SHIP_PORT) -> str:
    """`http://<session_id>@ip:port`: the user part names the session whose token Ship wants
    (ShipClient never sends it), and keeps endpoints distinct when an address is reused."""
    return f"http://{session_id}@{ip}:{port}"


def endpoint_session(endpoint: str) -> str | None:
    """The session named by a `tcp_endpoint`, None for any other endpoint."""
    if not endpoint.startswith("http://"):
        return None
    return urlsplit(endpoint).username


async def wait_for_health(ip: str, port: int = SHIP_PORT) -> None:
    """Return once Ship answers `GET /health` at the container's IP.

    The driver's only timer-driven wait: with an engine on another host Bay shares no
    directory with the container, so there is no ready file to watch. The caller bounds it
    by `start_timeout_s` and by the container's exit.
    """
    pause, longest = _HEALTH_BACKOFF_S
    async with httpx.AsyncClient(base_url=f"http://{ip}:{port}", timeout=2) as client:
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/health")).status_code == 200:
                    return
            await asyncio.sleep(pause)
            pause = min(pause * 2, longest)


async def answers_tcp(ip: str, port: int = SHIP_PORT) -> bool:
    """Ship accepts connections on its port (it wrote its ready file after listening)."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(ip, port), timeout=5)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True
