"""Per-session cgroups for the local driver: detect what the host lets us limit, then apply it."""

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from bay.drivers.base import Limits

CONTROLLERS = ("memory", "pids", "cpu")
_MOUNTINFO = Path("/proc/self/mountinfo")
_SELF_CGROUP = Path("/proc/self/cgroup")


@dataclass(frozen=True)
class _Mount:
    point: Path
    root: str
    fstype: str
    options: frozenset[str]


class Cgroups:
    """Where session cgroups go and which controllers we may write.

    `parents` maps a controller to the directory holding `{session_id}` cgroups. On cgroup v1
    each controller has its own directory; on v2 they all share one.
    """

    def __init__(self, version: int, parents: dict[str, Path], notes: tuple[str, ...]) -> None:
        self.version = version
        self.parents = parents
        self.notes = notes

    @classmethod
    def detect(cls, name: str) -> "Cgroups":
        """Find writable controllers; moving a sandbox into a cgroup as Bay needs root."""
        if os.geteuid() != 0:
            return cls(0, {}, ("cgroup limits need Bay to run as root",))
        try:
            mounts = _mounts()
            v1 = _detect_v1(mounts, name)
            if v1:
                return cls(1, v1, _missing_notes(v1))
            v2 = next((m for m in mounts if m.fstype == "cgroup2"), None)
            parents = _detect_v2(v2.point, name) if v2 else {}
        except OSError as exc:
            return cls(0, {}, (f"cgroups cannot be read: {exc}",))
        return cls(2, parents, _missing_notes(parents))

    def create(self, session_id: str, limits: Limits) -> list[Path]:
        """Make the session's cgroup directories and write its limits into them."""
        dirs: list[Path] = []
        try:
            for controller, parent in self.parents.items():
                directory = parent / session_id
                if directory not in dirs:
                    directory.mkdir(parents=True, exist_ok=True)
                    dirs.append(directory)
                _write_limit(self.version, controller, directory, limits)
        except OSError:
            remove(dirs)
            raise
        return dirs

    def oom_counter(self, dirs: list[Path]) -> Path | None:
        """The file of a session's memory cgroup that counts its OOM kills (`oom_kill N`), for
        bwrap to bind into the sandbox. bwrap runs as the sandbox's host uid, so the cgroup
        directories (Bay makes them under umask 077) become passable, not listable."""
        parent = self.parents.get("memory")
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        for directory in dirs:
            if parent is not None and directory.parent == parent:
                counter = directory / name
                if not counter.is_file():
                    return None
                for passed in (parent, directory):
                    passed.chmod(passed.stat().st_mode | 0o111)
                return counter
        return None

    def limit_cpu(self, dirs: list[Path], cpus: float) -> None:
        """Write the cpu limit into a session's cgroups made without one."""
        parent = self.parents.get("cpu")
        if parent is None or cpus <= 0:
            return
        for directory in dirs:
            if directory.parent == parent:
                _write_cpu(self.version, directory, cpus)


def procs_files(dirs: list[Path]) -> list[Path]:
    return [d / "cgroup.procs" for d in dirs]


def members(dirs: list[Path]) -> set[int]:
    """Every pid in the given cgroups (a missing cgroup has none)."""
    pids: set[int] = set()
    for path in procs_files(dirs):
        with contextlib.suppress(FileNotFoundError):
            pids.update(int(line) for line in path.read_text().split())
    return pids


def remove(dirs: list[Path]) -> list[Path]:
    """Remove session cgroups; return those still busy (the kernel may lag the last exit)."""
    busy = []
    for directory in dirs:
        try:
            directory.rmdir()
        except FileNotFoundError:
            continue
        except OSError:
            busy.append(directory)
    return busy


def _write_limit(version: int, controller: str, directory: Path, limits: Limits) -> None:
    if controller == "memory" and limits.memory_bytes > 0:
        if version == 1:
            (directory / "memory.limit_in_bytes").write_text(str(limits.memory_bytes))
            # Without memsw the sandbox could push its pages to swap and dodge the limit.
            memsw = directory / "memory.memsw.limit_in_bytes"
            if memsw.exists():
                memsw.write_text(str(limits.memory_bytes))
        else:
            (directory / "memory.max").write_text(str(limits.memory_bytes))
            swap = directory / "memory.swap.max"
            if swap.exists():
                swap.write_text("0")
    elif controller == "pids" and limits.pids > 0:
        (directory / "pids.max").write_text(str(limits.pids))
    elif controller == "cpu" and limits.cpus > 0:
        _write_cpu(version, directory, limits.cpus)


def _write_cpu(version: int, directory: Path, cpus: float) -> None:
    if version == 1:
        period = int((directory / "cpu.cfs_period_us").read_text())
        quota = max(1000, int(cpus * period))
        (directory / "cpu.cfs_quota_us").write_text(str(quota))
    else:
        period = 100_000
        (directory / "cpu.max").write_text(f"{max(1000, int(cpus * period))} {period}")


def _mounts() -> list[_Mount]:
    found = []
    for line in _MOUNTINFO.read_text().splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3 or not tail[0].startswith("cgroup"):
            continue
        options = frozenset(tail[2].split(","))
        found.append(_Mount(Path(fields[4]), fields[3], tail[0], options))
    return found


def _own_paths() -> dict[str, str]:
    """Bay's own cgroup per v1 controller, from /proc/self/cgroup."""
    paths = {}
    for line in _SELF_CGROUP.read_text().splitlines():
        _, names, path = line.split(":", 2)
        for controller in names.split(","):
            paths[controller] = path
    return paths


def _detect_v1(mounts: list[_Mount], name: str) -> dict[str, Path]:
    # Sessions nest under Bay's own cgroup so that limits and accounting the host puts on
    # Bay also cover its sandboxes; v1 kills nothing when Bay's process exits.
    own = _own_paths()
    parents = {}
    for controller in CONTROLLERS:
        mount = next((m for m in mounts if m.fstype == "cgroup" and controller in m.options), None)
        if mount is None or controller not in own:
            continue
        relative = os.path.relpath(own[controller], mount.root)
        parent = (mount.point / relative / name).resolve()
        with contextlib.suppress(OSError):
            parent.mkdir(exist_ok=True)
            parents[controller] = parent
    return parents


def _detect_v2(root: Path, name: str) -> dict[str, Path]:
    # v2 forbids processes in a cgroup that delegates controllers, and Bay's own cgroup
    # holds Bay, so sessions go under the hierarchy's root, which is exempt.
    available = set((root / "cgroup.controllers").read_text().split())
    wanted = [c for c in CONTROLLERS if c in available]
    parent = root / name
    with contextlib.suppress(OSError):
        _enable(root, wanted)
        parent.mkdir(exist_ok=True)
        _enable(parent, wanted)
    if not parent.is_dir():
        return {}
    enabled = set((parent / "cgroup.subtree_control").read_text().split())
    return {c: parent for c in wanted if c in enabled}


def _enable(directory: Path, controllers: list[str]) -> None:
    for controller in controllers:
        with contextlib.suppress(OSError):
            (directory / "cgroup.subtree_control").write_text(f"+{controller}")


def _missing_notes(parents: dict[str, Path]) -> tuple[str, ...]:
    return tuple(f"no writable {c} cgroup controller" for c in CONTROLLERS if c not in parents)
