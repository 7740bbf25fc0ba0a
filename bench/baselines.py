"""The physical floors, measured in the same run: a jupyter kernel, bash, docker, bwrap."""

import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bench.model import Row, ms
from tests.bay_process import SHIP_VENV
from tests.engines import IMAGE, unavailable


class RawKernel:
    """An IPython kernel on the host driven straight through jupyter_client, as Ship does."""

    def __init__(self, client: Any) -> None:
        self._client = client

    async def run(self, code: str) -> str:
        msg_id = self._client.execute(code, store_history=True, allow_stdin=False)
        text = ""
        while True:
            msg = await self._client.get_iopub_msg(timeout=60)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                text += msg["content"]["text"]
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        while await self._client.shell_channel.msg_ready():
            await self._client.get_shell_msg(timeout=0)
        return text.strip()


def _kernel_spec(directory: Path) -> Path:
    """A kernelspec running Ship's own venv, so the raw kernel is the one Ship starts."""
    spec = directory / "kernels" / "ship"
    spec.mkdir(parents=True)
    argv = [str(SHIP_VENV / "bin" / "python"), "-m", "ipykernel_launcher", "-f"]
    kernel = {"argv": [*argv, "{connection_file}"], "display_name": "ship", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel))
    return spec.parent


@asynccontextmanager
async def raw_kernel() -> AsyncIterator[RawKernel]:
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    with tempfile.TemporaryDirectory(prefix="bench-kernel-") as private:
        specs = KernelSpecManager(kernel_dirs=[str(_kernel_spec(Path(private)))])
        manager = AsyncKernelManager(
            kernel_name="ship",
            kernel_spec_manager=specs,
            connection_file=str(Path(private) / "kernel.json"),
            transport="ipc",
            ip=str(Path(private) / "zmq"),
        )
        await manager.start_kernel()
        client = manager.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=60)
            yield RawKernel(client)
        finally:
            client.stop_channels()
            await manager.shutdown_kernel(now=True)
            manager.context.destroy(linger=0)


async def raw_shell(command: str) -> str:
    """`bash -lc` as Ship runs it: a clean environment and a HOME without dotfiles."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": tempfile.gettempdir(), "LANG": "C.UTF-8"}
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-lc",
        command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, _ = await process.communicate()
    return out.decode().strip()


async def kernel_tti() -> float:
    """A kernel started on the host, then its first `print(1)`: the floor of a cold TTI."""
    started = time.perf_counter()
    async with raw_kernel() as kernel:
        await kernel.run("print(1)")
        return time.perf_counter() - started


def _timed(argv: list[str]) -> float | None:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, check=False)
    return time.perf_counter() - started if done.returncode == 0 else None


def docker_run() -> list[float]:
    if unavailable("docker"):
        return []
    argv = ["docker", "run", "--rm", "--network", "none", "--entrypoint", "python3", IMAGE]
    times = [_timed([*argv, "-c", "print(1)"]) for _ in range(5)]
    return [t for t in times if t is not None]


def bwrap_run() -> list[float]:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return []
    argv = [bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/"]
    argv += ["--proc", "/proc", "--dev", "/dev", str(SHIP_VENV / "bin" / "python"), "-c", "1"]
    times = [_timed(argv) for _ in range(5)]
    return [t for t in times if t is not None]


def scenario() -> list[Row]:
    """Start-up floors: a host kernel to its first result, a container, a bwrap sandbox."""
    kernels = [asyncio.run(kernel_tti()) for _ in range(5)]
    rows = [
        Row("baseline", "raw kernel start + first print(1) (host, Ship's venv)", "ms", ms(kernels)),
        Row("baseline", "raw `docker run` python3 -c print(1)", "ms", ms(docker_run())),
        Row("baseline", "raw bwrap + python -c 1", "ms", ms(bwrap_run())),
    ]
    note = f"python {sys.version.split()[0]}"
    rows[0].note = note
    return rows
