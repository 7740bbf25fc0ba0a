"""`create_app(settings)`: everything long-lived is built in the lifespan and passed down."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession as DbSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from bay import __version__, logs
from bay.api import (
    admin,
    browser,
    cargos,
    docs,
    execs,
    files,
    handlers,
    health,
    history,
    metrics,
    ports,
    processes,
    profiles,
    sandboxes,
    skills,
    terminal,
)
from bay.api.middleware import AuthGate, BodyLimit, RequestLayer
from bay.api.state import State
from bay.config import Settings
from bay.db.engine import make_engine, make_sessionmaker, migrate, startup_lock
from bay.drivers.base import Driver
from bay.drivers.ship_tokens import load_secret
from bay.metrics import Metrics
from bay.metrics_server import MetricsServer
from bay.services import leases
from bay.services.browser_learning import BrowserLearning
from bay.services.cargos import CargoService
from bay.services.census import Census
from bay.services.clock import Clock, utcnow
from bay.services.execs import ExecLimits
from bay.services.gc import GcService
from bay.services.heartbeat import Heartbeat
from bay.services.keys import KeyService, Provisioned
from bay.services.locks import SandboxLocks
from bay.services.port_links import PortLinks
from bay.services.profiles import ProfileCatalog
from bay.services.recent_keys import key_memory
from bay.services.records import Records, Retention
from bay.services.sessions import Reconciler, SessionRuntime, SessionService
from bay.services.tasks import Tasks
from bay.services.warm_pool import WarmPool
from bay.ship_client import ShipClient

log = logging.getLogger(__name__)

DriverFactory = Callable[[Settings], Driver]


def build_driver(settings: Settings) -> Driver:
    """The driver named by `driver.type`, chosen once per process."""
    kind = settings.driver.type
    if kind == "local":
        from bay.drivers.local import LocalDriver

        return LocalDriver(settings.driver.local, settings.data_dir, settings.instance_id)
    if kind == "docker":
        from bay.drivers.docker import DockerDriver

        docker = settings.driver.docker
        secret = settings.security.ship_secret
        return DockerDriver(docker, settings.data_dir, settings.instance_id, secret)
    if kind == "fake":
        from bay.drivers.fake import FakeDriver

        return FakeDriver(settings.data_dir)
    raise ValueError(f"driver type {kind!r} is not available")


def create_app(
    settings: Settings,
    clock: Clock = utcnow,
    driver_factory: DriverFactory = build_driver,
    on_keys: Callable[[Provisioned], None] | None = None,
) -> FastAPI:
    logs.route_to_stdlib()
    meters = Metrics(settings.driver.type)  # this app's own registry
    app = FastAPI(
        title="Shipyard Neo Bay",
        version=__version__,
        lifespan=_lifespan(settings, clock, driver_factory, on_keys, meters),
        docs_url=None,  # docs.install serves them without a CDN
        redoc_url=None,
    )
    for module in ROUTERS:
        # The routers' own routes, built once at import: `include_router` would have every
        # new app rebuild each route's dependencies and models on its first request. (So
        # `app.dependency_overrides` does not reach them; nothing here uses it.)
        app.router.routes.extend(module.router.routes)
    docs.install(app)
    handlers.install(app)
    app.add_middleware(AuthGate)  # runs after RequestLayer: the last added is outermost
    app.add_middleware(BodyLimit)
    app.add_middleware(RequestLayer, metrics=meters)
    return app


ROUTERS = (
    health,
    profiles,
    sandboxes,
    execs,
    browser,
    processes,
    files,
    history,
    cargos,
    skills,
    admin,
    terminal,
    ports,
    metrics,
)


def _lifespan(
    settings: Settings,
    clock: Clock,
    driver_factory: DriverFactory,
    on_keys: Callable[[Provisioned], None] | None,
    meters: Metrics,
) -> Callable[[FastAPI], AbstractAsyncContextManager[dict[str, State]]]:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, State]]:
        state = await _start(settings, clock, driver_factory, on_keys, meters)
        background = [
            _schedule_lease(state),
            _schedule_gc(state),
            _schedule_heartbeat(state),
            _schedule_learning(state),
        ]
        refill = _schedule_refill(state)
        listener: MetricsServer | None = None
        try:
            listener = _serve_metrics(state)  # a taken address fails the start, cleanly
            yield {"bay": state}
        finally:
            for task in background:
                if task is not None:
                    task.cancel()
            if listener is not None:
                await listener.stop()
            await _stop(state, refill)

    return lifespan


async def _start(
    settings: Settings,
    clock: Clock,
    driver_factory: DriverFactory,
    on_keys: Callable[[Provisioned], None] | None,
    meters: Metrics,
) -> State:
    _prepare_data_dir(settings.data_dir)
    database = settings.database
    engine = make_engine(
        settings.database_url, database.echo, database.pool_size, database.max_overflow
    )
    meters.watch_db_pool(engine.sync_engine.pool)
    sessionmaker = make_sessionmaker(engine)
    async with startup_lock(engine):
        await migrate(engine)
        provisioned = await _provision_keys(settings, sessionmaker, clock)
    if on_keys is not None:
        on_keys(provisioned)
    driver = driver_factory(settings)
    _log_enforcement(driver)
    write_turn = asyncio.Lock() if settings.database_url.startswith("sqlite") else None
    runtime = _runtime(settings, sessionmaker, driver, meters, write_turn)
    await _rejoin(settings, runtime, clock)
    sessions = SessionService(runtime, clock)
    pool = _build_pool(settings, runtime, sessions, clock)
    records = _records(settings, sessionmaker, write_turn)
    gc = GcService(runtime, sessions, settings.gc, clock, pool, records)
    if settings.gc.run_on_startup:
        await gc.run_once()
    learning = BrowserLearning(
        sessionmaker,
        settings.browser_learning,
        settings.browser_auto_release_enabled,
        clock,
        meters,
        write_turn,
    )
    return State(
        settings=settings,
        engine=engine,
        sessionmaker=sessionmaker,
        driver=driver,
        ship=runtime.ship,
        profiles=runtime.profiles,
        runtime=runtime,
        clock=clock,
        gc=gc,
        learning=learning,
        pool=pool,
        records=records,
        exec_limits=ExecLimits(settings.limits.max_code_bytes),
        tasks=Tasks(),
        recent_keys=key_memory(settings.security.key_cache_seconds),
        port_links=PortLinks(load_secret(settings.security.ship_secret, settings.data_dir)),
        write_turn=write_turn,
        metrics=meters,
        census=Census(sessionmaker, pool, meters, clock),
    )


def _runtime(
    settings: Settings,
    sessionmaker: async_sessionmaker[DbSession],
    driver: Driver,
    meters: Metrics,
    write_turn: asyncio.Lock | None,
) -> SessionRuntime:
    """What sessions need, built once: the Ship client, the profiles, the locks."""
    ship = ShipClient(
        token_for=driver.ship_token,
        on_error=lambda exc: meters.ship_call_errors.labels(type(exc).__name__).inc(),
    )
    return SessionRuntime(
        sessionmaker=sessionmaker,
        driver=driver,
        ship=ship,
        profiles=ProfileCatalog(settings.profiles, driver.enforcement().runtimes),
        locks=SandboxLocks(),
        instance_id=settings.instance_id,
        metrics=meters,
        ship_env={"SHIP_OUTPUT_LIMIT": str(settings.ship.output_limit_bytes)},
        orphan_grace_s=settings.ship.orphan_grace_seconds,
        write_turn=write_turn,
    )


def _records(
    settings: Settings,
    sessionmaker: async_sessionmaker[DbSession],
    write_turn: asyncio.Lock | None,
) -> Records:
    history = settings.history
    retention = Retention(
        history.max_field_bytes, history.max_rows_per_sandbox, history.max_age_days
    )
    return Records(sessionmaker, retention, write_turn)


async def _rejoin(settings: Settings, runtime: SessionRuntime, clock: Clock) -> None:
    """Take this replica's liveness lease, then reconcile its sessions (and gone replicas')."""
    lease = leases.replica(settings.instance_id)
    seconds = _lease_s(settings)
    if previous := await leases.take(runtime.sessionmaker, lease, runtime.holder, clock(), seconds):
        # A run of this instance killed a moment ago, or a second Bay given the same id.
        log.warning(
            "instance id %s was live a moment ago (%s): each replica needs its own BAY_INSTANCE_ID",
            settings.instance_id,
            previous,
        )
    attached, reaped = await Reconciler(runtime).run(clock())
    log.info("reconcile: %d live sessions re-attached, %d dead reaped", attached, reaped)


def _prepare_data_dir(data_dir: Path) -> None:
    """Others may pass through (sandbox users reach their cargo) but never list or read."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o711)
    data_dir.chmod(0o711)


def _build_pool(
    settings: Settings, runtime: SessionRuntime, sessions: SessionService, clock: Clock
) -> WarmPool:
    size = settings.cargo.default_size_limit_mb

    def cargos(db: DbSession) -> CargoService:
        return CargoService(db, runtime.driver, size, clock)

    return WarmPool(runtime, sessions, cargos, settings.warm_pool, clock)


def _serve_metrics(state: State) -> MetricsServer | None:
    settings = state["settings"].metrics
    if not settings.enabled or settings.listen is None:
        return None
    server = MetricsServer(settings.listen, state["metrics"], state["census"].refresh)
    server.start()
    return server


def _schedule_refill(state: State) -> "asyncio.Task[None] | None":
    if not state["settings"].warm_pool.background:
        return None
    return asyncio.create_task(state["pool"].loop(), name="bay-warm-pool")


def _lease_s(settings: Settings) -> float:
    return settings.replicas.lease_seconds


def _schedule_lease(state: State) -> "asyncio.Task[None]":
    """This replica's liveness lease: while it holds, no other replica reaps its sessions."""
    settings = state["settings"]
    lease = leases.replica(settings.instance_id)
    holder = state["runtime"].holder
    renewals = leases.keep(state["sessionmaker"], lease, holder, state["clock"], _lease_s(settings))
    return asyncio.create_task(renewals, name="bay-replica-lease")


def _schedule_gc(state: State) -> "asyncio.Task[None] | None":
    if not state["settings"].gc.enabled:
        return None
    return asyncio.create_task(state["gc"].loop(), name="bay-gc")


def _schedule_learning(state: State) -> "asyncio.Task[None] | None":
    """Passes on a timer (the first at once with `run_on_startup`); replicas share them."""
    if not state["settings"].browser_learning.enabled:
        return None
    return asyncio.create_task(state["learning"].loop(), name="bay-browser-learning")


def _schedule_heartbeat(state: State) -> "asyncio.Task[None] | None":
    """Keep this Bay's sessions from ending themselves; they do only when no Bay is left."""
    grace = state["settings"].ship.orphan_grace_seconds
    if grace is None:
        return None
    beats = Heartbeat(state["runtime"], grace)
    return asyncio.create_task(beats.loop(), name="bay-heartbeat")


async def _provision_keys(
    settings: Settings, sessionmaker: async_sessionmaker[DbSession], clock: Clock
) -> Provisioned:
    async with sessionmaker() as db, db.begin():
        keys = KeyService(db, clock)
        endpoint = f"http://{settings.server.host}:{settings.server.port}"
        credentials = Path(settings.data_dir) / "credentials.json"
        return await keys.provision(settings.admin_key, credentials, endpoint)


def _log_enforcement(driver: Driver) -> None:
    held = driver.enforcement()
    log.info(
        "driver limits enforced: memory=%s pids=%s cpu=%s cargo_quota=%s",
        held.memory,
        held.pids,
        held.cpu,
        held.cargo_quota,
    )
    for note in held.notes:
        log.warning("driver: %s", note)


async def _stop(state: State, refill: "asyncio.Task[None] | None") -> None:
    if refill is not None:
        state["pool"].stop()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(refill), timeout=10)
        refill.cancel()
        await asyncio.gather(refill, return_exceptions=True)
    await state["pool"].drain()
    await state["tasks"].drain(seconds=5)
    await state["ship"].aclose()
    await state["driver"].close()
    lease = leases.replica(state["settings"].instance_id)
    await leases.release(state["sessionmaker"], lease, state["runtime"].holder)
    await state["engine"].dispose()
