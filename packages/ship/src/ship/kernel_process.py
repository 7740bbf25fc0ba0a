"""The Python kernel's OS process, with the standard library only.

Ship starts the kernel before it imports anything heavy (jupyter_client, pydantic, the web
stack), so the kernel's own start-up, most of a cold sandbox's time to the first result,
overlaps Ship's. This module therefore writes the connection file itself and owns the process:
its group is signalled to interrupt, killed to restart, and reaped.
"""

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from ship.kernel_launcher import OUTPUT_LIMIT_FLAG, PRELOAD_FLAG

# Both ends remember message signatures to refuse replays; jupyter's default keeps 65,536
# per session, which grows Ship and the kernel by about a kilobyte per execution for hours.
DIGESTS_KEPT = 4096
# shipyard_protocol's, which this module cannot import before the kernel starts (pydantic is
# slow to load); a unit test keeps the two equal.
DEFAULT_OUTPUT_LIMIT = 1024 * 1024

# `python -c` with `-P` puts nothing on the path; `ship` then comes after everything the
# interpreter has (a directory holding only `ship` adds nothing else to the user's Python).
_BOOTSTRAP = (
    "import sys; sys.path.append(sys.argv.pop(1)); from ship.kernel_launcher import main; main()"
)
_CHANNELS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
# Jupyter's and IPython's files live in the kernel's private dir, never in the workspace.
_PRIVATE_DIRS = {
    "JUPYTER_RUNTIME_DIR": "runtime",
    "JUPYTER_DATA_DIR": "data",
    "JUPYTER_CONFIG_DIR": "config",
    "IPYTHONDIR": "ipython",
    "MPLCONFIGDIR": "matplotlib",
}


class KernelCommand:
    """What starts the kernel: its interpreter, where it finds `ship`, what it imports first.

    `python`: the user's Python, which has ipykernel (default: Ship's own interpreter).
    `ship_path`: a directory holding only the `ship` package, for a `python` that lacks it.
    `preload`: modules imported before the kernel answers; a failure is a warning.
    `matplotlib_cache`: a directory whose files (the font list made when the environment was
    built) seed each kernel's own matplotlib cache, so no kernel scans the fonts again.
    """

    def __init__(
        self,
        python: str = "",
        ship_path: str = "",
        preload: Sequence[str] = (),
        matplotlib_cache: str = "",
    ) -> None:
        self.python = python or sys.executable
        self.ship_path = ship_path
        self.preload = tuple(preload)
        self.matplotlib_cache = matplotlib_cache

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "KernelCommand":
        preload = [name.strip() for name in env.get("SHIP_PRELOAD", "").split(",")]
        return cls(
            env.get("SHIP_KERNEL_PYTHON", ""),
            env.get("SHIP_KERNEL_PATH", ""),
            [name for name in preload if name],
            env.get("SHIP_MATPLOTLIB_CACHE", ""),
        )

    def argv(self, connection_file: Path, output_limit: int) -> list[str]:
        # -P: the workspace (the kernel's cwd) must not shadow the modules that start it.
        start = (
            ["-c", _BOOTSTRAP, self.ship_path] if self.ship_path else ["-m", "ship.kernel_launcher"]
        )
        return [
            self.python,
            "-P",
            *start,
            "-f",
            str(connection_file),
            f"--Session.digest_history_size={DIGESTS_KEPT}",
            # ship.kernel_launcher's own options
            f"{OUTPUT_LIMIT_FLAG}{output_limit}",
            f"{PRELOAD_FLAG}{','.join(self.preload)}",
        ]


class KernelProcess:
    """One kernel process at a time on a fixed connection (ipc sockets in a private dir), so
    a client stays connected across restarts."""

    def __init__(
        self,
        workspace: Path,
        output_limit: int = DEFAULT_OUTPUT_LIMIT,
        command: KernelCommand | None = None,
    ) -> None:
        self._workspace = workspace
        self._output_limit = output_limit
        self._command = command or KernelCommand()
        self.private_dir = Path(tempfile.mkdtemp(prefix="ship-kernel-"))
        self.connection_file = self.private_dir / "kernel.json"
        self.connection_file.write_text(json.dumps(_connection(self.private_dir)))
        self.connection_file.chmod(0o600)
        self._process: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        """Start a kernel; the previous one must be gone (see `kill`)."""
        command = self._command.argv(self.connection_file, self._output_limit)
        # Its own session: an interrupt reaches the kernel and its children, never Ship.
        # Its fds must not reach Ship's log (a host file for some drivers): user output is
        # collected from iopub, never from these.
        self._process = subprocess.Popen(  # noqa: S603 - a configured interpreter and a fixed module
            command,
            cwd=self._workspace,
            env=self._env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def returncode(self) -> int | None:
        """How the kernel ended (negative: the signal that killed it); None while it runs."""
        return self._process.poll() if self._process is not None else None

    def interrupt(self) -> None:
        if self.alive():
            self._signal(signal.SIGINT)

    async def kill(self) -> None:
        """Kill the kernel and everything it started (its group outlives a dead kernel), and
        reap it; the wait runs in a thread, since freeing gigabytes can take a while."""
        import asyncio  # not at the top: this module loads before the kernel is spawned

        process, self._process = self._process, None
        if process is None:
            return
        _signal_group(process, signal.SIGKILL)
        await asyncio.to_thread(process.wait)

    async def close(self) -> None:
        await self.kill()
        shutil.rmtree(self.private_dir, ignore_errors=True)

    def discard(self) -> None:
        """For a process that never started: remove its private dir."""
        shutil.rmtree(self.private_dir, ignore_errors=True)

    def _signal(self, signum: int) -> None:
        if self._process is not None:
            _signal_group(self._process, signum)

    def _env(self) -> dict[str, str]:
        # Ship's own settings (a token among them) are not the kernel's business.
        env = {name: value for name, value in os.environ.items() if not name.startswith("SHIP_")}
        for name, sub in _PRIVATE_DIRS.items():
            (self.private_dir / sub).mkdir(exist_ok=True)
            env[name] = str(self.private_dir / sub)
        _seed(Path(self._command.matplotlib_cache), Path(env["MPLCONFIGDIR"]))
        # ipykernel exits when this process does, so a killed Ship leaves no kernel behind.
        env["JPY_PARENT_PID"] = str(os.getpid())
        return env


def _seed(source: Path, target: Path) -> None:
    """Copy the files of `source` into `target` (nothing when `source` is unset or missing)."""
    if source == Path():
        return
    try:
        for path in source.iterdir():
            if path.is_file():
                shutil.copyfile(path, target / path.name)
    except OSError:
        return  # an unseeded cache is only slower


def _signal_group(process: "subprocess.Popen[bytes]", signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        return


def _connection(private_dir: Path) -> dict[str, object]:
    """Jupyter connection info over ipc: each channel is the file `<ip>-<port>`."""
    info: dict[str, object] = {name: port for port, name in enumerate(_CHANNELS, start=1)}
    info.update(
        ip=str(private_dir / "zmq"),
        transport="ipc",
        key=secrets.token_hex(32),
        signature_scheme="hmac-sha256",
        kernel_name="",
    )
    return info
