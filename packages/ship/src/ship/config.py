"""Ship's settings: a small frozen dataclass read from the environment."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ship.kernel_exit import CGROUP_COUNTERS
from ship.kernel_process import KernelCommand
from shipyard_protocol.ship import DEFAULT_OUTPUT_LIMIT


@dataclass(frozen=True)
class ShipConfig:
    workspace: Path = Path("/workspace")
    socket: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8123
    output_limit: int = DEFAULT_OUTPUT_LIMIT
    ready_fd: int | None = None
    ready_file: Path | None = None
    interrupt_grace: float = 2.0
    pipe_grace: float = 0.2
    event_log_bytes: int = 16 * 1024 * 1024
    event_log_events: int = 65536
    follower_stall: float = 300.0
    executions_kept: int = 64
    executions_kept_bytes: int = 64 * 1024 * 1024
    prestart_kernel: bool = False
    # A warm sandbox of a browser profile: Chromium launched before Ship says it is ready.
    prestart_browser: bool = False
    # A browser sidecar's Ship (SHIP_ROLE=browser): the browser's routes only, no kernel,
    # shell or files, so reaching it gives nothing the browser does not.
    browser_only: bool = False
    kernel: KernelCommand = field(default_factory=KernelCommand)
    # stdout and stderr go to /dev/null once ready: Bay reads them only while Ship starts.
    quiet_after_ready: bool = False
    token_sha256: str | None = None  # hex SHA-256 of the bearer token every request must carry
    # Ship ends (and its sandbox with it) once Bay has not spoken to it for this long.
    orphan_after: float | None = None
    # Where the sandbox's memory cgroup counts OOM kills (SHIP_MEMORY_EVENTS: one file).
    oom_counters: tuple[Path, ...] = CGROUP_COUNTERS
    # The sandbox's id (SHIP_SANDBOX_ID), which names its browser session.
    sandbox_id: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "ShipConfig":
        socket = env.get("SHIP_SOCKET")
        ready_fd = env.get("SHIP_READY_FD")
        ready_file = env.get("SHIP_READY_FILE")
        orphan_after = env.get("SHIP_ORPHAN_AFTER_S")
        return cls(
            workspace=Path(env.get("SHIP_WORKSPACE", "/workspace")),
            socket=Path(socket) if socket else None,
            host=env.get("SHIP_HOST", "127.0.0.1"),
            port=int(env.get("SHIP_PORT", "8123")),
            output_limit=int(env.get("SHIP_OUTPUT_LIMIT", str(DEFAULT_OUTPUT_LIMIT))),
            ready_fd=int(ready_fd) if ready_fd else None,
            ready_file=Path(ready_file) if ready_file else None,
            event_log_bytes=int(env.get("SHIP_EVENT_LOG_BYTES", str(cls.event_log_bytes))),
            prestart_kernel=env.get("SHIP_PRESTART_KERNEL", "") in ("1", "true"),
            prestart_browser=env.get("SHIP_PRESTART_BROWSER", "") in ("1", "true"),
            browser_only=env.get("SHIP_ROLE", "") == "browser",
            kernel=KernelCommand.from_env(env),
            quiet_after_ready=env.get("SHIP_QUIET_AFTER_READY", "") in ("1", "true"),
            token_sha256=env.get("SHIP_TOKEN_SHA256") or None,
            orphan_after=float(orphan_after) if orphan_after else None,
            oom_counters=(Path(events),)
            if (events := env.get("SHIP_MEMORY_EVENTS"))
            else CGROUP_COUNTERS,
            sandbox_id=env.get("SHIP_SANDBOX_ID") or None,
        )
