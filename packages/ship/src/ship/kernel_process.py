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
from pathlib import Path

# Both ends remember message signatures to refuse replays; jupyter's default keeps 65,536
# per session, which grows Ship and the kernel by about a kilobyte per execution for hours.
DIGESTS_KEPT = 4096
# shipyard_protocol's, which this module cannot import before the kernel starts (pydantic is
# slow to load); a unit test keeps the two equal.
DEFAULT_OUTPUT_LIMIT = 1024 * 1024

_CHANNELS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
# Jupyter's and IPython's files live in the kernel's private dir, never in the workspace.
_PRIVATE_DIRS = {
    "JUPYTER_RUNTIME_DIR": "runtime",
    "JUPYTER_DATA_DIR": "data",
    "JUPYTER_CONFIG_DIR": "config",
    "IPYTHONDIR": "ipython",
    "MPLCONFIGDIR": "matplotlib",
}


class KernelProcess:
    """One kernel process at a time on a fixed connection (ipc sockets in a private dir), so
    a client stays connected across restarts."""

    def __init__(self, workspace: Path, output_limit: int = DEFAULT_OUTPUT_LIMIT) -> None:
        self._workspace = workspace
        self._output_limit = output_limit
        self.private_dir = Path(tempfile.mkdtemp(prefix="ship-kernel-"))
        self.connection_file = self.private_dir / "kernel.json"
        self.connection_file.write_text(json.dumps(_connection(self.private_dir)))
        self.connection_file.chmod(0o600)
        self._process: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        """Start a kernel; the previous one must be gone (see `kill`)."""
        command = [
            sys.executable,
            "-P",  # the workspace (its cwd) must not shadow the modules that start it
            "-m",
            "ship.kernel_launcher",
            "-f",
            str(self.connection_file),
            f"--Session.digest_history_size={DIGESTS_KEPT}",
            f"--ship-output-limit={self._output_limit}",  # ship.kernel_launcher's own
        ]
        # Its own session: an interrupt reaches the kernel and its children, never Ship.
        # Its fds must not reach Ship's log (a host file for some drivers): user output is
        # collected from iopub, never from these.
        self._process = subprocess.Popen(  # noqa: S603 - our interpreter and a fixed module
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
        # ipykernel exits when this process does, so a killed Ship leaves no kernel behind.
        env["JPY_PARENT_PID"] = str(os.getpid())
        return env


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
