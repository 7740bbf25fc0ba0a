"""Request dependencies: the DB unit of work, the caller, and the services built from state."""

import hmac
from collections.abc import AsyncIterator
from typing import Annotated, Any, cast

from fastapi import Depends, Header
from sqlalchemy.ext.asyncio import AsyncSession as DbSession
from starlette.requests import HTTPConnection

from bay.api.middleware import authenticate
from bay.api.state import State
from bay.errors import ForbiddenError, NotFoundError
from bay.services.blobs import BlobService
from bay.services.browser import BrowserService
from bay.services.browser_learning import BrowserLearning, thresholds
from bay.services.candidates import CandidateService
from bay.services.capabilities import CapabilityCheck, Usable
from bay.services.cargos import CargoService
from bay.services.execs import ExecService
from bay.services.files import FileService
from bay.services.gc import GcService
from bay.services.history import HistoryService
from bay.services.idempotency import IdempotencyService
from bay.services.keys import KeyService, Principal
from bay.services.ports import PortService
from bay.services.processes import ProcessService
from bay.services.profiles import ProfileCatalog
from bay.services.releases import ReleaseService
from bay.services.sandboxes import SandboxService
from bay.services.sessions import SessionService
from bay.services.streams import StreamService, StreamSettings
from bay.services.terminals import TerminalService


def bay_state(request: HTTPConnection) -> State:
    return cast(State, request.state.bay)


async def get_db(request: HTTPConnection) -> AsyncIterator[DbSession]:
    """One transaction per request: committed when the route returns, rolled back on error.

    On SQLite, requests that still have writes to send take turns to commit them: SQLite
    lets one writer in at a time and makes the others poll with sleeps of up to 100 ms, which
    a burst of executions (each writing its history row) turned into long tails.
    """
    state = bay_state(request)
    async with state["sessionmaker"]() as db:
        try:
            yield db
        except BaseException:
            await db.rollback()
            raise
        turn = state["write_turn"]
        if turn is not None and (db.new or db.dirty or db.deleted):
            async with turn:
                await db.commit()
        else:
            await db.commit()


# "function" scope: commit before the response goes out, so a client that reads the
# answer and calls again at once sees what it was told exists.
Db = Annotated[DbSession, Depends(get_db, scope="function")]


async def get_principal(
    request: HTTPConnection,
    authorization: Annotated[str | None, Header()] = None,
    x_owner: Annotated[str | None, Header()] = None,
) -> Principal:
    """The caller; the AuthGate middleware has usually found it before the body was read."""
    known = getattr(request.state, "principal", None)
    if isinstance(known, Principal):
        return known
    headers = {"authorization": authorization or "", "x-owner": x_owner or ""}
    if authorization is None:
        headers.pop("authorization")
    return await authenticate(bay_state(request), headers)


Caller = Annotated[Principal, Depends(get_principal)]


async def get_admin(principal: Caller) -> Principal:
    if not principal.is_admin:
        raise ForbiddenError("This call needs an admin API key")
    return principal


Admin = Annotated[Principal, Depends(get_admin)]
BayState = Annotated[State, Depends(bay_state)]


async def get_scraper(request: HTTPConnection, state: BayState) -> None:
    """`/metrics` on Bay's port: the metrics token or an admin key; 404 where it is not served."""
    settings = state["settings"].metrics
    if not settings.enabled or settings.listen is not None:
        raise NotFoundError("Metrics are not served on this address")
    header = request.headers.get("authorization", "")
    secret = settings.token.get_secret_value() if settings.token else None
    offered = header.removeprefix("Bearer ").encode() if header.startswith("Bearer ") else b""
    if secret and offered and hmac.compare_digest(offered, secret.encode()):
        return
    principal = await authenticate(state, dict(request.headers))
    if not principal.is_admin:
        raise ForbiddenError("/metrics needs the metrics token or an admin API key")


Scraper = Depends(get_scraper)


async def get_profiles(request: HTTPConnection) -> ProfileCatalog:
    return bay_state(request)["profiles"]


Profiles = Annotated[ProfileCatalog, Depends(get_profiles)]


async def get_sessions(request: HTTPConnection) -> SessionService:
    state = bay_state(request)
    return SessionService(state["runtime"], state["clock"])


Sessions = Annotated[SessionService, Depends(get_sessions)]


async def get_cargos(request: HTTPConnection, db: Db) -> CargoService:
    state = bay_state(request)
    size = state["settings"].cargo.default_size_limit_mb
    return CargoService(db, state["driver"], size, state["clock"])


Cargos = Annotated[CargoService, Depends(get_cargos)]


async def get_sandboxes(
    request: HTTPConnection,
    db: Db,
    sessions: Sessions,
    cargos: Cargos,
) -> SandboxService:
    state = bay_state(request)
    return SandboxService(
        db, cargos, sessions, state["profiles"], state["ship"], state["clock"], state["pool"]
    )


Sandboxes = Annotated[SandboxService, Depends(get_sandboxes)]


async def get_execs(request: HTTPConnection, sessions: Sessions) -> ExecService:
    state = bay_state(request)
    return ExecService(
        sessions,
        state["profiles"],
        state["clock"],
        state["records"],
        state["exec_limits"],
        state["metrics"],
    )


Execs = Annotated[ExecService, Depends(get_execs)]


async def get_files(request: HTTPConnection, sessions: Sessions) -> FileService:
    return FileService(sessions)


Files = Annotated[FileService, Depends(get_files)]


async def get_idempotency(request: HTTPConnection, db: Db) -> IdempotencyService:
    state = bay_state(request)
    settings = state["settings"].idempotency
    holder = state["runtime"].holder
    return IdempotencyService(db, state["sessionmaker"], settings, state["clock"], holder)


Idempotency = Annotated[IdempotencyService, Depends(get_idempotency)]
IdempotencyKeyHeader = Annotated[str | None, Header(alias="Idempotency-Key")]


async def get_history(db: Db) -> HistoryService:
    return HistoryService(db)


History = Annotated[HistoryService, Depends(get_history)]


async def get_blobs(request: HTTPConnection, db: Db) -> BlobService:
    return BlobService(db, bay_state(request)["clock"])


Blobs = Annotated[BlobService, Depends(get_blobs)]


async def get_candidates(request: HTTPConnection, db: Db, blobs: Blobs) -> CandidateService:
    return CandidateService(db, blobs, bay_state(request)["clock"])


Candidates = Annotated[CandidateService, Depends(get_candidates)]


async def get_releases(request: HTTPConnection, db: Db, candidates: Candidates) -> ReleaseService:
    state = bay_state(request)
    limits = thresholds(state["settings"].browser_learning)
    return ReleaseService(db, candidates, state["clock"], limits)


Releases = Annotated[ReleaseService, Depends(get_releases)]


async def get_browser(
    request: HTTPConnection, db: Db, sessions: Sessions, releases: Releases, blobs: Blobs
) -> BrowserService:
    state = bay_state(request)
    return BrowserService(
        db,
        sessions,
        state["profiles"],
        state["records"],
        releases,
        blobs,
        state["clock"],
        state["metrics"],
    )


Browser = Annotated[BrowserService, Depends(get_browser)]


async def get_keys(request: HTTPConnection, db: Db) -> KeyService:
    return KeyService(db, bay_state(request)["clock"])


Keys = Annotated[KeyService, Depends(get_keys)]


async def get_gc(request: HTTPConnection) -> GcService:
    return bay_state(request)["gc"]


Gc = Annotated[GcService, Depends(get_gc)]


async def get_learning(request: HTTPConnection) -> BrowserLearning:
    return bay_state(request)["learning"]


Learning = Annotated[BrowserLearning, Depends(get_learning)]


async def get_streams(request: HTTPConnection, sessions: Sessions) -> StreamService:
    state = bay_state(request)
    settings = StreamSettings(heartbeat_s=state["settings"].streaming.heartbeat_seconds)
    return StreamService(
        state["runtime"],
        sessions,
        state["tasks"],
        settings,
        state["clock"],
        state["records"],
        state["exec_limits"],
    )


Streams = Annotated[StreamService, Depends(get_streams)]


async def get_terminals(request: HTTPConnection, sessions: Sessions) -> TerminalService:
    return TerminalService(sessions)


Terminals = Annotated[TerminalService, Depends(get_terminals)]


async def get_processes(request: HTTPConnection, sessions: Sessions) -> ProcessService:
    return ProcessService(sessions)


Processes = Annotated[ProcessService, Depends(get_processes)]


async def get_ports(
    request: HTTPConnection, sandboxes: Sandboxes, sessions: Sessions
) -> PortService:
    state = bay_state(request)
    relays = state["runtime"].relays
    return PortService(
        sandboxes, sessions, state["ship"], state["port_links"], relays, state["clock"]
    )


Ports = Annotated[PortService, Depends(get_ports)]


async def get_public_url(request: HTTPConnection) -> str:
    """Where clients reach Bay, for links it hands out: configured, else this request's."""
    configured = bay_state(request)["settings"].server.public_url
    return configured or str(request.base_url)


PublicUrl = Annotated[str, Depends(get_public_url)]


def capability_check(request: HTTPConnection) -> CapabilityCheck:
    state = bay_state(request)
    known = state["runtime"].known
    return CapabilityCheck(state["sessionmaker"], state["profiles"], state["clock"], known)


def capable(capability: str, recall: bool = True) -> Any:
    """A dependency yielding the caller's sandbox after the capability check (§1.4 order);
    `recall=False` for routes that read nothing more of the sandbox (see capabilities)."""

    async def dependency(request: HTTPConnection, sandbox_id: str, caller: Caller) -> Usable:
        check = capability_check(request)
        return await check.usable(caller.owner, sandbox_id, capability, recall)

    return Depends(dependency)


PythonSandbox = Annotated[Usable, capable("python")]
ShellSandbox = Annotated[Usable, capable("shell")]
FilesSandbox = Annotated[Usable, capable("filesystem")]
BrowserSandbox = Annotated[Usable, capable("browser")]
# A trace is a blob of the owner's: nothing after the check reads the sandbox's row.
FreshBrowserSandbox = Annotated[Usable, capable("browser", recall=False)]
