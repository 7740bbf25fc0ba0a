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
- `SHIP_QUIET_AFTER_READY=1`: stdout and stderr go to /dev/null once ready (the local driver
  reads them through a pipe only while Ship starts, so the sandbox holds no host file).
- `SHIP_ORPHAN_AFTER_S`: end Ship (and so its sandbox) once this many seconds pass with no
  request from Bay in flight or ended (on TCP, only requests with the token count). Unset: never.
- `SHIP_PRESTART_KERNEL=1`: launch the Python kernel first, so it boots while Ship imports
  everything else, and report ready only once it answers (instead of at the first execution).
- `SHIP_KERNEL_PYTHON`: the interpreter that runs the kernel, the user's Python with ipykernel
  (default: Ship's own).
- `SHIP_KERNEL_PATH`: a directory holding only the `ship` package, appended to the kernel's
  module path, for a `SHIP_KERNEL_PYTHON` that lacks Ship (whose venv stays out of it).
- `SHIP_MATPLOTLIB_CACHE`: a directory whose files (matplotlib's font list, made when the
  environment was built) are copied into each kernel's own matplotlib cache.
- `SHIP_PRELOAD`: modules, comma separated, that the kernel imports before it answers (for
  `matplotlib.pyplot`, its inline backend too); one that fails is a warning on the first
  execution's stderr.
- `SHIP_SANDBOX_ID`: the sandbox's id, the name of its browser session (default `shipyard`);
  the browser itself is agent-browser's, configured by its own `AGENT_BROWSER_*` variables.
"""

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ship.kernel_process import KernelProcess

# Only the standard library's lightest modules load before the kernel is spawned: its boot is
# most of a cold sandbox's start, and everything Ship imports afterwards overlaps it.
_CREDENTIALS = ("SHIP_TOKEN_SHA256",)


def main() -> None:
    credentials = _take_credentials()
    launched = _launch_kernel() if os.environ.get("SHIP_PRESTART_KERNEL") in ("1", "true") else None
    from ship.server import run

    run(credentials, launched)


def _take_credentials() -> dict[str, str]:
    """Remove Bay's credentials from the environment, which the kernel, shells, processes and
    terminals (the sandbox's code) inherit; only the config keeps them."""
    return {name: os.environ.pop(name) for name in _CREDENTIALS if name in os.environ}


def _launch_kernel() -> "KernelProcess | None":
    """The kernel's process, started with the standard library alone; None if it failed (the
    lifespan then starts one, and says why if that fails too)."""
    from pathlib import Path

    from ship.kernel_process import DEFAULT_OUTPUT_LIMIT, KernelCommand, KernelProcess

    try:
        workspace = Path(os.environ.get("SHIP_WORKSPACE", "/workspace"))
        limit = int(os.environ.get("SHIP_OUTPUT_LIMIT", DEFAULT_OUTPUT_LIMIT))
        process = KernelProcess(workspace, limit, KernelCommand.from_env(os.environ))
    except OSError:
        return None
    try:
        process.spawn()
    except OSError:
        process.discard()
        return None
    return process


if __name__ == "__main__":
    main()
