"""Run Ship: `python -m ship`.

Environment:
- `SHIP_WORKSPACE`: the workspace directory (default `/workspace`).
- `SHIP_SOCKET`: serve HTTP on this Unix socket (a stale socket file is removed first);
  otherwise `SHIP_HOST` / `SHIP_PORT` (TCP, default 127.0.0.1:8123).
- `SHIP_OUTPUT_LIMIT`: bytes kept per stream per execution (default 1 MiB).
- `SHIP_EVENT_LOG_BYTES`: bytes of events kept per execution for resuming (default 16 MiB).
- `SHIP_READY_FD`: an inherited file descriptor; `ready\\n` is written to it (then it is
  closed) once the server is listening.
"""

import contextlib
import ctypes
import logging
import os
import socket
import stat
import sys

import uvicorn

from ship.app import create_app
from ship.config import ShipConfig

_PR_SET_DUMPABLE = 4


class _ReadyServer(uvicorn.Server):
    """A uvicorn server that reports on a file descriptor once its socket is bound."""

    def __init__(self, config: uvicorn.Config, ready_fd: int | None) -> None:
        super().__init__(config)
        self._ready_fd = ready_fd

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self._ready_fd is not None:
            with os.fdopen(self._ready_fd, "wb", buffering=0) as ready:
                ready.write(b"ready\n")
            self._ready_fd = None


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


def main() -> None:
    _forbid_tracing()
    config = ShipConfig.from_env(os.environ)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    app = create_app(config)
    if config.socket is not None:
        sock = _bind_unix(str(config.socket))
        _ReadyServer(uvicorn.Config(app, log_config=None), config.ready_fd).run(sockets=[sock])
        return
    server_config = uvicorn.Config(app, host=config.host, port=config.port, log_config=None)
    _ReadyServer(server_config, config.ready_fd).run()


if __name__ == "__main__":
    main()
