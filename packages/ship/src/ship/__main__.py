"""Run Ship: `python -m ship`.

Environment:
- `SHIP_WORKSPACE`: the workspace directory (default `/workspace`).
- `SHIP_SOCKET`: serve HTTP on this Unix socket (a stale socket file is removed first);
  otherwise `SHIP_HOST` / `SHIP_PORT` (TCP, default 127.0.0.1:8123).
- `SHIP_OUTPUT_LIMIT`: bytes kept per stream per execution (default 1 MiB).
- `SHIP_EVENT_LOG_BYTES`: bytes of events kept per execution for resuming (default 16 MiB).
- `SHIP_READY_FD`: an inherited file descriptor; `ready\\n` is written to it (then it is
  closed) once the server is listening.
- `SHIP_READY_FILE`: a path where `ready\\n` is written once the server is listening (for
  engines that cannot pass a descriptor, such as Docker).
- `SHIP_TOKEN_SHA256`: hex SHA-256 of a bearer token; every request but `/health` must carry
  the token (401 otherwise). Removed from the environment before anything starts.
- `SHIP_PRESTART_KERNEL=1`: launch the Python kernel first, so it boots while Ship imports
  everything else, and report ready only once it answers (instead of at the first execution).
"""

import asyncio
import contextlib
import ctypes
import logging
import os
import socket
import stat
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ship.config import ShipConfig
    from ship.kernel_process import KernelProcess

_PR_SET_DUMPABLE = 4
_CREDENTIALS = ("SHIP_TOKEN_SHA256",)


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


def _take_credentials() -> dict[str, str]:
    """Remove Bay's credentials from the environment, which the kernel, shells, processes and
    terminals (the sandbox's code) inherit; only the config keeps them."""
    return {name: os.environ.pop(name) for name in _CREDENTIALS if name in os.environ}


def main() -> None:
    _forbid_tracing()
    credentials = _take_credentials()
    # Before anything heavy is imported (settings, models, jupyter_client, the web stack):
    # the kernel's start-up is most of a cold sandbox's, and it overlaps all of Ship's.
    launched = _launch_kernel() if os.environ.get("SHIP_PRESTART_KERNEL") in ("1", "true") else None
    from ship.config import ShipConfig

    config = ShipConfig.from_env({**os.environ, **credentials})
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    asyncio.run(_serve(config, launched))


async def _serve(config: "ShipConfig", launched: "KernelProcess | None") -> None:
    import uvicorn

    from ship.app import ReadyServer, create_app
    from ship.kernel import kernel_for

    app = create_app(config, kernel_for(config, launched))
    if config.socket is not None:
        sock = _bind_unix(str(config.socket))
        server = uvicorn.Config(app, log_config=None, access_log=False)
        await ReadyServer(server, config).serve(sockets=[sock])
        return
    # No access log: Ship's log may be a host file, and Bay logs every request already.
    server_config = uvicorn.Config(
        app, host=config.host, port=config.port, log_config=None, access_log=False
    )
    await ReadyServer(server_config, config).serve()


def _launch_kernel() -> "KernelProcess | None":
    """The kernel's process, started with the standard library alone; None if it failed (the
    lifespan then starts one, and says why if that fails too)."""
    from pathlib import Path

    from ship.kernel_process import KernelProcess

    process = KernelProcess(Path(os.environ.get("SHIP_WORKSPACE", "/workspace")))
    try:
        process.spawn()
    except OSError:
        process.close()
        return None
    return process


if __name__ == "__main__":
    main()
