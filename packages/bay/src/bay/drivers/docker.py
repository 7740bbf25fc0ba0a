"""The Docker driver: each session is one hardened container, cargos are host directories."""

import asyncio
import contextlib
import json
import logging
import os
import shutil
from collections.abc import Coroutine, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiodocker
import aiohttp
from pydantic import SecretStr

from bay.config import DockerDriverSettings
from bay.drivers import bwrap, docker_network, host_dirs, inotify
from bay.drivers.base import (
    BrowserSpec,
    CargoSpec,
    CargoStorage,
    DriverError,
    DriverUnavailableError,
    Enforcement,
    Instance,
    InstanceInfo,
    InstanceStartError,
    InstanceState,
    Labels,
    SessionSpec,
)
from bay.drivers.cargo_store import CargoStore
from bay.drivers.docker_container import (
    BROWSER_SUFFIX,
    READY_NAME,
    RUNTIME_LABEL,
    SANDBOX_UID,
    SHIP_CHANNEL_LABEL,
    SOCKET_NAME,
    browser_config,
    container_config,
)
from bay.drivers.docker_network import BROWSER_PORT, SHIP_PORT, SandboxNetworks, TcpChannel
from bay.drivers.ship_tokens import ShipTokens
from bay.egress import launch, stats
from bay.egress.stats import Traffic

logger = logging.getLogger(__name__)

CONTAINER_PREFIX = "shipyard-"
_UNREACHABLE = 900  # the status aiodocker gives a DockerError when it cannot connect at all
_LISTED = ("Labels", "State", "HostConfig", "NetworkSettings")


class DockerDriver:
    """Sessions are containers found again by their labels; cargos are bind-mounted host dirs."""

    def __init__(
        self,
        settings: DockerDriverSettings,
        data_dir: Path,
        instance_id: str,
        ship_secret: SecretStr | None = None,
    ) -> None:
        self._settings = settings
        self._instance_id = instance_id
        self._store = CargoStore(data_dir, SANDBOX_UID)
        self._runs = settings.run_dir.absolute()
        # The proxies' counters and logs: not in the run dirs, which containers see.
        self._egress = data_dir.absolute() / "egress"
        self._docker: aiodocker.Docker | None = None
        self._networks = SandboxNetworks(settings)
        with _mapped(DriverError, "docker driver setup"):
            for directory in (self._store.root, self._runs, self._egress):
                directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Loaded in socket mode too: sessions started in container_ip mode keep working.
            self._tokens = ShipTokens.load(ship_secret, data_dir.absolute())

    async def create_cargo(self, spec: CargoSpec) -> str:
        """Called by the cargo service; the directory is bind-mounted at /workspace."""
        return await self._store.create_cargo(spec)

    async def delete_cargo(self, driver_ref: str) -> None:
        """Called on cargo deletion and by GC."""
        await self._store.delete_cargo(driver_ref)

    async def list_cargos(self) -> list[CargoStorage]:
        """Called by the orphan-cargo GC."""
        return await self._store.list_cargos()

    async def start(self, spec: SessionSpec) -> Instance:
        """Called by `ensure_running`; returns once Ship answers, else leaves nothing behind."""
        session_id = _checked(spec.labels.session_id)
        runs = [self._runs / session_id]
        if spec.browser is not None:
            runs.append(self._runs / (session_id + BROWSER_SUFFIX))
        with _mapped(InstanceStartError, f"start {session_id}"):
            await self._store.ensure_mounted(self._store.existing(spec.cargo_ref))
            for run in runs:
                if not self._tcp:
                    host_dirs.check_socket_path(run / SOCKET_NAME)
                host_dirs.claim(run)
                # Ship (uid 1000) binds its socket here; _seal takes the dir back once it has.
                os.chown(run, SANDBOX_UID, SANDBOX_UID)
        try:
            endpoints = await self._launch(spec, runs)
        except BaseException:
            await self._discard(session_id)
            raise
        return Instance(session_id, endpoints[0], spec.labels, next(iter(endpoints[1:]), None))

    async def stop(self, ref: str) -> None:
        """Called by stop, delete, idle GC and reconcile; removes the container and its run dir."""
        session_id = _checked(ref)
        with _mapped(DriverError, f"stop {ref}"):
            await self._remove(session_id + BROWSER_SUFFIX)
            await self._remove(session_id)
            _remove_tree(self._runs / (session_id + BROWSER_SUFFIX))
            _remove_tree(self._runs / session_id)
            _remove_tree(self._egress / session_id)

    async def inspect(self, ref: str) -> InstanceState:
        """Called when a Ship call suggests the session is gone. A session whose browser
        sidecar has ended is EXITED too: restarted whole, it gets its browser back."""
        name = CONTAINER_PREFIX + _checked(ref)
        state = await self._container_state(name)
        if state != InstanceState.RUNNING:
            return state
        sidecar = await self._container_state(name + BROWSER_SUFFIX)
        return InstanceState.EXITED if sidecar == InstanceState.EXITED else state

    async def _container_state(self, name: str) -> InstanceState:
        with _mapped(DriverError, f"inspect {name}"):
            try:
                container = await self._client().containers.get(name)
            except aiodocker.DockerError as exc:
                if exc.status == 404:
                    return InstanceState.MISSING
                raise
        return _state(container["State"])

    async def list_instances(self) -> list[InstanceInfo]:
        """Called by reconcile and GC: every container labelled with this Bay instance's id."""
        labels = ["bay.managed=true", f"bay.instance_id={self._instance_id}"]
        with _mapped(DriverError, "list instances"):
            containers = await self._client().containers.list(all=True, filters={"label": labels})
        found = []
        for container in containers:
            if container["Labels"].get(RUNTIME_LABEL):
                continue  # a session's sidecar: it lives and goes with the session's container
            with contextlib.suppress(KeyError):
                found.append(self._info({key: container[key] for key in _LISTED}))
        return sorted(found, key=lambda info: info.ref)

    def ship_token(self, endpoint: str) -> str | None:
        """Called by ShipClient for each endpoint it connects to: the bearer token a
        container-IP Ship wants (derived, never stored), None for a Unix socket."""
        session_id = docker_network.endpoint_session(endpoint)
        return self._tokens.token(session_id) if session_id else None

    def traffic(self, ref: str) -> Traffic | None:
        """Called when a sandbox's detail is read: its proxy's counters, if it has one."""
        return stats.read(self._egress / _checked(ref) / "stats.json")

    def enforcement(self) -> Enforcement:
        """Called once at startup: dockerd enforces every compute limit through cgroups."""
        notes = (
            self._store.reason,
            "runsc: gVisor's own host threads count against the pids limit",
        )
        return Enforcement(True, True, True, self._store.quota, notes)

    async def close(self) -> None:
        """Close the API client; the containers keep running and are found again by label."""
        if self._docker is not None:
            await self._docker.close()
            self._docker = None

    def _client(self) -> aiodocker.Docker:
        # Built on first use: aiohttp wants a running event loop.
        if self._docker is None:
            self._docker = aiodocker.Docker(url=self._settings.url)
        return self._docker

    @property
    def _tcp(self) -> bool:
        return self._settings.endpoint == "container_ip"

    def _info(self, container: dict[str, Any]) -> InstanceInfo:
        """From a container list entry; the endpoint follows the container's own mode, so
        sessions started before a change of `endpoint` are re-attached as they are."""
        found = Labels.from_dict(container["Labels"])
        state = _state(container["State"])
        networks = self._networks.names()
        channel = container["Labels"].get(SHIP_CHANNEL_LABEL)  # absent on older containers
        tcp = channel == "tcp" or (
            channel is None and docker_network.on_network(container, networks)
        )
        if not tcp:
            socket = self._runs / found.session_id / SOCKET_NAME
            return InstanceInfo(found.session_id, state, found, f"unix:{socket}")
        ip = docker_network.container_ip(container, networks)
        endpoint = docker_network.tcp_endpoint(found.session_id, ip) if ip else None
        return InstanceInfo(found.session_id, state, found, endpoint)

    async def _launch(self, spec: SessionSpec, runs: list[Path]) -> list[str]:
        """Create and start the container (and the browser's sidecar when the session has a
        browser, in `runs[1]`); return their Ships' endpoints once they answer."""
        run = runs[0]
        name = CONTAINER_PREFIX + spec.labels.session_id
        # runc takes a cpu limit on a running container, so it waits for Ship to be ready:
        # until then only Ship's start-up runs, its web stack and its kernel in parallel.
        limits = spec.limits
        deferred = spec.runtime is None and limits.cpus > 0
        if deferred:
            spec = replace(spec, limits=replace(limits, cpus=0))
        if spec.browser is not None and (spec.runtime or "").startswith("runsc"):
            raise InstanceStartError(
                "gVisor keeps each container in a sandbox of its own: the browser's sidecar "
                "cannot join the session's namespaces there, so a browser profile cannot run "
                "on gVisor (use runc or the local driver)"
            )
        if not spec.egress.offline and (spec.runtime or "").startswith("runsc"):
            raise InstanceStartError(
                "gVisor runs here with --network=none: a sandbox in it has no network, so a "
                "profile on it must have network `none`"
            )
        with _mapped(InstanceStartError, f"start {name}"):
            tcp = await self._channel(spec) if self._tcp else None
            config = container_config(spec, run, self._settings.tmp_size_mb, tcp)
            container = await self._client().containers.create(config, name=name)
            await container.start()
            browser, browser_tcp = spec.browser, self._browser_channel(spec, tcp)
            sidecars = [
                await self._start_browser(spec, browser, run, name, browser_tcp)
                for run in runs[1:]
                if browser is not None
            ]
            endpoints = [await self._ready(container, container, run, tcp)]
            # Each as soon as its own Ship is up: a sidecar's browser may take a while.
            if deferred:
                await self._limit_cpu(name, limits.cpus)
            _seal(run, socket=tcp is None)
            for sidecar, sidecar_run in zip(sidecars, runs[1:], strict=True):
                endpoints.append(
                    await self._ready(sidecar, container, sidecar_run, browser_tcp, BROWSER_PORT)
                )
                _seal(sidecar_run, socket=tcp is None)
            if not spec.egress.offline:
                await self._open_network(spec, container)
            elif tcp is not None:
                await self._wall(container)
        return endpoints

    async def _start_browser(
        self,
        spec: SessionSpec,
        browser: BrowserSpec,
        run: Path,
        session_container: str,
        tcp: TcpChannel | None,
    ) -> Any:
        """The browser's sidecar, started as soon as the session's container runs (it joins
        that container's namespaces), so both start-ups overlap."""
        config = browser_config(
            spec,
            browser,
            run,
            self._settings.tmp_size_mb,
            session_container,
            tcp,
        )
        sidecar = await self._client().containers.create(
            config, name=session_container + BROWSER_SUFFIX
        )
        await sidecar.start()
        return sidecar

    def _browser_channel(self, spec: SessionSpec, tcp: TcpChannel | None) -> TcpChannel | None:
        """The sidecar's Ship wants a token of its own (its session's name + BROWSER_SUFFIX):
        a sandbox that took port 8124 in the shared network namespace would catch only that
        one, which opens nothing but the browser's routes."""
        if tcp is None:
            return None
        return replace(tcp, digest=self._tokens.digest(spec.labels.session_id + BROWSER_SUFFIX))

    async def _ready(
        self,
        container: Any,
        session_container: Any,
        run: Path,
        tcp: TcpChannel | None,
        port: int = SHIP_PORT,
    ) -> str:
        """`container`'s Ship endpoint once it answers (on the session container's address
        when on TCP: a sidecar shares its network namespace)."""
        if tcp is None:
            return await self._socket_ready(container, run)
        return await self._tcp_ready(container, session_container, run, tcp, port)

    async def _open_network(self, spec: SessionSpec, container: Any) -> None:
        """Give the container its network: every connection out passes its own proxy, which
        Bay starts in the container's network namespace (so Bay must run on the engine's
        host, as root)."""
        pid = int((await container.show())["State"].get("Pid") or 0)
        first = bwrap.proc_stat(pid) if pid > 0 else None
        if first is None:
            raise InstanceStartError("the container's first process is not on this host")
        files = self._egress / spec.labels.session_id
        files.mkdir(mode=0o700)
        try:
            await launch.start(
                spec.egress,
                pid,
                lambda: bwrap.alive(pid, first.start),
                launch.Files(files / "stats.json", files / "egress.log"),
                self._settings.egress.namespace,
            )
        except launch.EgressError as exc:
            raise InstanceStartError(str(exc)) from exc

    async def _wall(self, container: Any) -> None:
        """On Bay's network a sandbox without network still has an interface: no route out of
        it, and only answers to Bay's own connections leave (the engine host's bridge address
        lies on that network)."""
        pid = int((await container.show())["State"].get("Pid") or 0)
        try:
            await launch.wall_offline(pid)
        except launch.EgressError as exc:
            raise InstanceStartError(str(exc)) from exc

    async def _channel(self, spec: SessionSpec) -> TcpChannel:
        network = await self._networks.ensure(self._client())
        digest = self._tokens.digest(spec.labels.session_id)
        return TcpChannel(network, digest, docker_network.shares_files(self._settings))

    async def _socket_ready(self, container: Any, run: Path) -> str:
        await self._wait_ready(container, inotify.wait_for_file(run, READY_NAME))
        if not await _answers(run / SOCKET_NAME):
            raise InstanceStartError(f"Ship is not answering: {await _log_tail(container)}")
        return f"unix:{run / SOCKET_NAME}"

    async def _tcp_ready(
        self, container: Any, session_container: Any, run: Path, tcp: TcpChannel, port: int
    ) -> str:
        shown = await session_container.show()
        ip = docker_network.container_ip(shown, (tcp.network,))
        if ip is None:
            raise InstanceStartError(f"the container has no address on {tcp.network}")
        if tcp.shared_run:
            await self._wait_ready(container, inotify.wait_for_file(run, READY_NAME))
        else:
            await self._wait_ready(container, docker_network.wait_for_health(ip, port))
        if not await docker_network.answers_tcp(ip, port):
            raise InstanceStartError(f"Ship is not answering: {await _log_tail(container)}")
        session_id = Labels.from_dict(shown["Config"]["Labels"]).session_id
        # The user part names the token: the sidecar's is its own.
        subject = session_id + (BROWSER_SUFFIX if port == BROWSER_PORT else "")
        return docker_network.tcp_endpoint(subject, ip, port)

    async def _limit_cpu(self, name: str, cpus: float) -> None:
        update = {"NanoCpus": int(cpus * 1_000_000_000)}
        await self._client()._query_json(
            f"containers/{name}/update", method="POST", data=json.dumps(update)
        )

    async def _wait_ready(self, container: Any, until: Coroutine[Any, Any, None]) -> None:
        """Wait for `until` (Ship's ready file, or its /health) or the container's exit."""
        ready = asyncio.ensure_future(until)
        exited = asyncio.ensure_future(container.wait())
        try:
            async with asyncio.timeout(self._settings.start_timeout_s):
                await asyncio.wait({ready, exited}, return_when=asyncio.FIRST_COMPLETED)
        except TimeoutError:
            raise InstanceStartError(
                f"Ship did not become ready: {await _log_tail(container)}"
            ) from None
        finally:
            for waiter in (ready, exited):
                waiter.cancel()
            await asyncio.gather(ready, exited, return_exceptions=True)
        if not ready.done() or ready.cancelled() or ready.exception() is not None:
            raise InstanceStartError(f"Ship exited at start: {await _log_tail(container)}")

    async def _remove(self, session_id: str) -> None:
        try:
            await (
                self._client()
                .containers.container(CONTAINER_PREFIX + session_id)
                .delete(force=True, v=True)
            )
        except aiodocker.DockerError as exc:
            if exc.status == 409 and "already in progress" in str(exc.message):
                await self._gone(session_id)  # another stop (GC, a second Bay) got there first
            elif exc.status != 404:
                raise

    async def _gone(self, session_id: str, timeout: float = 60.0) -> None:
        """Wait for a removal someone else started; DriverError if it does not end."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            try:
                await self._client().containers.get(CONTAINER_PREFIX + session_id)
            except aiodocker.DockerError as exc:
                if exc.status == 404:
                    return
                raise
            await asyncio.sleep(0.2)
        raise DriverError(f"{session_id}: another removal did not end in {timeout:.0f} s")

    async def _discard(self, session_id: str) -> None:
        try:
            await self.stop(session_id)
        except DriverError:
            logger.exception("could not clean up the failed start of %s", session_id)


def _seal(run: Path, socket: bool = True) -> None:
    """Take the run dir back from the sandbox once Ship listens, so it cannot swap the socket.

    Bay connects to this path as root; a symlink planted there would point Bay at any socket
    on the host (docker.sock included). Without CAP_CHOWN the sandbox cannot undo this.
    """
    os.chown(run, 0, 0)
    run.chmod(0o755)
    if socket:
        host_dirs.require_socket(run / SOCKET_NAME, run.name)


async def _answers(socket: Path) -> bool:
    """Ship accepts connections on its socket (it wrote its ready file after listening)."""
    if not host_dirs.is_socket(socket):
        return False
    try:
        _, writer = await asyncio.open_unix_connection(str(socket))
    except OSError:
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def _log_tail(container: Any, lines: int = 40) -> str:
    try:
        logs = await container.log(stdout=True, stderr=True, tail=lines)
    except aiodocker.DockerError:
        return "(no log)"
    return "".join(logs).strip() or "(empty log)"


def _state(state: Any) -> InstanceState:
    """`State` is a string in container lists and an object in an inspect answer."""
    if isinstance(state, dict):
        running = state.get("Running") and not state.get("Paused")
        return InstanceState.RUNNING if running else InstanceState.EXITED
    return InstanceState.RUNNING if state == "running" else InstanceState.EXITED


@contextlib.contextmanager
def _mapped(error: type[DriverError], what: str) -> Iterator[None]:
    """Translate aiodocker, aiohttp and OS failures into the driver's error tree."""
    try:
        yield
    except aiohttp.ClientConnectionError as exc:
        raise DriverUnavailableError(f"{what}: dockerd cannot be reached: {exc}") from exc
    except aiodocker.DockerError as exc:
        if exc.status == _UNREACHABLE:
            raise DriverUnavailableError(f"{what}: dockerd cannot be reached: {exc}") from exc
        raise error(f"{what}: {exc.message}") from exc
    except (OSError, aiohttp.ClientError, TimeoutError) as exc:
        raise error(f"{what}: {exc}") from exc


def _checked(name: str) -> str:
    return host_dirs.checked(name, "docker")


def _remove_tree(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(path)
