"""What the host sees of a sandbox: its process tree, PSS and threads; Bay's RSS."""

import contextlib
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class Footprint:
    """A process tree at one moment: PSS summed over every process, and threads."""

    processes: int
    pss_mb: float
    threads: int


def _parents() -> dict[int, int]:
    found = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            found[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return found


def tree(root: int) -> list[int]:
    """`root` and all its descendants."""
    parents = _parents()
    members, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        members += frontier
    return members


def _kib(path: Path, name: str) -> int:
    """A `Name: N kB` line of a /proc file; 0 when the process is gone."""
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            if line.startswith(f"{name}:"):
                return int(line.split()[1])
    return 0


def _field(pid: int, name: str, filename: str = "status") -> int:
    return _kib(PROC / str(pid) / filename, name)


def is_kernel(pid: int) -> bool:
    """Ship starts its kernel through `ship.kernel_launcher` (ipykernel without debugpy)."""
    with contextlib.suppress(OSError):
        command = (PROC / str(pid) / "cmdline").read_bytes()
        return b"ship.kernel_launcher" in command or b"ipykernel" in command
    return False


def footprint(root: int, kernel: bool | None = None) -> Footprint:
    """The whole tree; only its kernel (`kernel=True`); or all but the kernel (False)."""
    pids = [pid for pid in tree(root) if kernel is None or is_kernel(pid) == kernel]
    pss_kib = sum(_field(pid, "Pss", "smaps_rollup") for pid in pids)
    threads = sum(_field(pid, "Threads") for pid in pids)
    return Footprint(len(pids), round(pss_kib * 1024 / 1e6, 2), threads)


def rss_mb(pid: int, peak: bool = False) -> float:
    """VmRSS, or VmHWM (the peak since the process started)."""
    return round(_field(pid, "VmHWM" if peak else "VmRSS") * 1024 / 1e6, 1)


def mem_available_mb() -> float:
    return round(_kib(PROC / "meminfo", "MemAvailable") * 1024 / 1e6, 1)


def local_root(data_dir: Path, sandbox_id: str) -> int | None:
    """The local driver's outer bwrap process of the sandbox's session."""
    for record in (data_dir / "run").glob("*/session.json"):
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(record.read_text())
            if data["labels"].get("bay.sandbox_id") == sandbox_id and data.get("pid"):
                return int(data["pid"])
    return None


def docker_root(sandbox_id: str) -> int | None:
    """The container's shim (per-container runtime cost) or, failing that, its init."""
    roots = docker_roots(sandbox_id)
    return roots[0] if roots else None


def docker_roots(sandbox_id: str) -> list[int]:
    """Each container of the sandbox (Ship's, and a browser's sidecar): its shim or init."""
    ids = _docker("ps", "-q", "--filter", f"label=bay.sandbox_id={sandbox_id}").split()
    roots = [_container_root(container) for container in ids]
    return [root for root in roots if root is not None]


def _container_root(container: str) -> int | None:
    pid = int(_docker("inspect", "-f", "{{.State.Pid}}", container) or 0)
    if pid <= 0:
        return None
    parent = _parents().get(pid, 0)
    with contextlib.suppress(OSError):
        if (PROC / str(parent) / "comm").read_text().startswith("containerd-shim"):
            return parent
    return pid


def _docker(*args: str) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    return done.stdout.strip()
