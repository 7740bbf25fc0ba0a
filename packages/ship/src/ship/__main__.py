"""Run Ship: `python -m ship`.

Environment:
- `SHIP_WORKSPACE`: the workspace directory (default `/workspace`).
- `SHIP_SOCKET`: serve HTTP on this Unix socket (a stale socket file is removed first);
  otherwise `SHIP_HOST` / `SHIP_PORT` (TCP, default 127.0.0.1:8123).
- `SHIP_OUTPUT_LIMIT`: bytes kept per stream per execution (default 1 MiB).
- `SHIP_READY_FD`: an inherited file descriptor; `ready\\n` is written to it (then it is
  closed) once the server is listening.
"""

import logging
import os
import socket
import stat
import sys

import uvicorn

from ship.app import create_app
from ship.config import ShipConfig


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


def main() -> None:
    config = ShipConfig.from_env(os.environ)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    app = create_app(config)
    if config.socket is not None:
        _remove_stale_socket(str(config.socket))
        server_config = uvicorn.Config(app, uds=str(config.socket), log_config=None)
    else:
        server_config = uvicorn.Config(app, host=config.host, port=config.port, log_config=None)
    _ReadyServer(server_config, config.ready_fd).run()


if __name__ == "__main__":
    main()
