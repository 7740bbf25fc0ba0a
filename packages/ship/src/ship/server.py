"""Ship's server: settings, the app, and uvicorn on a Unix socket or TCP (see `__main__`)."""

import asyncio
import contextlib
import ctypes
import logging
import os
import socket
import stat
import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import uvicorn

    from ship.bay_lease import BayLease
    from ship.config import ShipConfig
    from ship.kernel_process import KernelProcess
    from ship.log_buffer import LogBuffer

_PR_SET_DUMPABLE = 4


def run(credentials: dict[str, str], launched: "KernelProcess | None") -> None:
    """Serve until stopped; `credentials` were taken out of the environment by `__main__`."""
    _forbid_tracing()
    _skip_pydantic_v1()
    from ship.config import ShipConfig
    from ship.log_buffer import LogBuffer

    config = ShipConfig.from_env({**os.environ, **credentials})
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    buffer = LogBuffer()
    logging.getLogger().addHandler(buffer)
    asyncio.run(_serve(config, launched, buffer))


def _skip_pydantic_v1() -> None:
    """FastAPI imports pydantic.v1 (about 40 ms of every start, and its memory) only to tell
    routes with pydantic v1 models apart; Ship has none, and without the module that check
    answers no."""
    sys.modules.setdefault("pydantic.v1", None)  # type: ignore[arg-type]


async def _serve(
    config: "ShipConfig", launched: "KernelProcess | None", buffer: "LogBuffer"
) -> None:
    import uvicorn

    from ship.app import ReadyServer, create_app
    from ship.bay_lease import BayLease
    from ship.kernel import kernel_for
    from shipyard_protocol.ship import KEEP_ALIVE_S

    lease = BayLease(config.orphan_after) if config.orphan_after else None
    app = create_app(config, kernel_for(config, launched), lease, buffer)
    # No access log: Ship's log may be a host file, and Bay logs every request already.
    if config.socket is not None:
        sockets = [_bind_unix(str(config.socket))]
        server_config = uvicorn.Config(
            app, log_config=None, access_log=False, timeout_keep_alive=KEEP_ALIVE_S
        )
    else:
        sockets = None
        server_config = uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            log_config=None,
            access_log=False,
            timeout_keep_alive=KEEP_ALIVE_S,
        )
    server = ReadyServer(server_config, config)
    async with _ended_when_orphaned(server, lease):
        await server.serve(sockets=sockets)


@contextlib.asynccontextmanager
async def _ended_when_orphaned(
    server: "uvicorn.Server", lease: "BayLease | None"
) -> AsyncIterator[None]:
    """Stop serving once the lease runs out; the sandbox ends with Ship (bwrap's or the
    container's init exits when its one child does)."""
    from ship.bay_lease import watch

    if lease is None:
        yield
        return

    def end() -> None:
        server.should_exit = True

    watcher = asyncio.create_task(watch(lease, end))
    try:
        yield
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)


def _remove_stale_socket(path: str) -> None:
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        return


def _bind_unix(path: str) -> socket.socket:
    """Bind the socket here rather than in uvicorn, which chmods it afterwards.

    gVisor refuses that chmod on a socket it creates on the host (`--host-uds=create`).
    """
    _remove_stale_socket(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    return sock


def _forbid_tracing() -> None:
    """Make Ship non-dumpable, so code in the sandbox (same uid) cannot ptrace it or read its
    memory; the processes Ship starts are dumpable again after their exec."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
