"""The embedded default driver: sessions are bubblewrap sandboxes, cargos are host directories."""

import asyncio
import contextlib
import json
import logging
import os
import shutil
import sys
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from bay.config import LocalDriverSettings
from bay.drivers import bwrap, cgroups, host_dirs, idmap, rootfs, seccomp
from bay.drivers.base import (
    CargoSpec,
    CargoStorage,
    DriverError,
    Enforcement,
    Instance,
    InstanceInfo,
    InstanceStartError,
    InstanceState,
    Labels,
    Limits,
    SessionSpec,
)
from bay.drivers.cargo_store import CargoStore
from bay.drivers.host_ids import HostIds
from bay.egress import launch, stats
from bay.egress.stats import Traffic

logger = logging.getLogger(__name__)


@dataclass
class _Record:
    """What session.json holds: enough for a restarted Bay to find and stop the session."""

    labels: dict[str, str]
    endpoint: str
    cgroups: list[str]
    launched: int
    started: str
    pid: int | None = None
    pid_start: int | None = None
    child_pid: int | None = None
    child_start: int | None = None
    uid: int | None = None  # the session's own host uid, when it has one

    def processes(self) -> list[tuple[int, int]]:
        pairs = [(self.child_pid, self.child_start), (self.pid, self.pid_start)]
        return [(pid, start) for pid, start in pairs if pid is not None and start is not None]


class LocalDriver:
    """Sessions run on this host in bubblewrap; they outlive Bay and are found again from disk."""

    def __init__(self, settings: LocalDriverSettings, data_dir: Path, instance_id: str) -> None:
        root = os.geteuid() == 0
        self._settings = settings
        self._instance_id = instance_id
        self._host_uid = settings.host_uid if root else None
        self._store = CargoStore(data_dir, self._host_uid)
        self._runs = data_dir.absolute() / "run"
        self._tools = bwrap.find_tools(settings.bwrap, root)
        self._filter = seccomp.bpf()
        with host_dirs.mapped(DriverError, "local driver setup"):
            self._root = _root(settings, data_dir.absolute())
            self._sockets = _socket_dir(settings.socket_dir) if root else None
            for directory in (self._store.root, self._runs):
                self._make_root(directory)
            self._cgroups = cgroups.Cgroups.detect(settings.cgroup_name)
        self._uid_note = "every sandbox runs as Bay's own uid (Bay is not root)"
        self._ids = self._session_ids(settings) if root else None
        if self._ids is not None:
            # Every session's own uid passes through the run dir root to its run dir.
            self._runs.chmod(0o711)
            _check_reachable(self._runs, self._ids.start)
        # -I: the workspace is the cwd and user-writable; it must never shadow Ship's modules.
        self._ship = [self._root.python, "-I", "-m", "ship"]
        check = [self._root.python, "-c", "import ship"]
        probe_uid = self._ids.start if self._ids else self._host_uid
        if probe_uid is not None:
            for path in self._root.reached:  # bwrap, as that uid, binds them by path
                _check_reachable(path, probe_uid)
        bwrap.probe(self._tools, probe_uid, self._root, check)
        self._log_enforcement()

    async def create_cargo(self, spec: CargoSpec) -> str:
        """Called by the cargo service; the directory is bound at /workspace in each session."""
        return await self._store.create_cargo(spec)

    async def delete_cargo(self, driver_ref: str) -> None:
        """Called on cargo deletion and by GC."""
        await self._store.delete_cargo(driver_ref)

    async def list_cargos(self) -> list[CargoStorage]:
        """Called by the orphan-cargo GC."""
        return await self._store.list_cargos()

    async def start(self, spec: SessionSpec) -> Instance:
        """Called by `ensure_running`; returns once Ship wrote `ready`, else leaves nothing."""
        if spec.runtime:
            raise InstanceStartError(f"the local driver has no runtime {spec.runtime}")
        spec = replace(spec, limits=_walls(spec))
        labels = spec.labels
        run = self._run(labels.session_id)
        socket = run / "sock" / bwrap.SOCKET_NAME
        host_dirs.check_socket_path(socket)
        record = _Record(labels.as_dict(), f"unix:{socket}", [], bwrap.boot_ticks(), _utc_now())
        with host_dirs.mapped(InstanceStartError, f"start {run.name}"):
            host_dirs.claim(run)
        try:
            record.uid = self._ids.claim(run) if self._ids else self._host_uid
            await self._store.ensure_mounted(self._store.owns(spec.cargo_ref))
            await self._launch(spec, run, record)
        except BaseException:
            try:
                await self._teardown(run, record)
            except DriverError:
                logger.exception("could not clean up the failed start of %s", run.name)
            raise
        # The browser runs inside the same walls, its commands sent through the same Ship.
        browser = record.endpoint if spec.browser else None
        return Instance(
            ref=labels.session_id, endpoint=record.endpoint, labels=labels, browser_endpoint=browser
        )

    async def stop(self, ref: str) -> None:
        """Called by stop, delete, idle GC and reconcile; kills every process of the session."""
        run = self._run(ref)
        record = _read_record(run)
        if record is None:
            with host_dirs.mapped(DriverError, f"stop {ref}"):
                _clear_run(run)
            return
        _find_pids(run, record)
        await self._teardown(run, record)

    async def inspect(self, ref: str) -> InstanceState:
        """Called by `ensure_running` before it trusts a session row."""
        run = self._run(ref)
        if not run.is_dir():
            return InstanceState.MISSING
        record = _read_record(run)
        return InstanceState.EXITED if record is None else _state(run, record)

    async def list_instances(self) -> list[InstanceInfo]:
        """Called by reconcile and GC: every session of this Bay instance, found from disk."""
        found = []
        runs = sorted(self._runs.iterdir()) if self._runs.is_dir() else []
        for run in runs:
            record = _read_record(run)
            if record is None or record.labels.get("bay.instance_id") != self._instance_id:
                continue
            labels = Labels.from_dict(record.labels)
            found.append(InstanceInfo(run.name, _state(run, record), labels, record.endpoint))
        return found

    def ship_token(self, endpoint: str) -> str | None:
        """Called by ShipClient: none, Ship answers on a socket in the session's run dir."""
        return None

    def traffic(self, ref: str) -> Traffic | None:
        """Called when a sandbox's detail is read: its proxy's counters, if it has one."""
        return stats.read(self._run(ref) / "egress.json")

    def enforcement(self) -> Enforcement:
        """Called once at startup to log which limits hold on this host."""
        parents = self._cgroups.parents
        notes = (
            *self._cgroups.notes,
            *([] if os.geteuid() == 0 else ["network policies need Bay to run as root"]),
            *([self._root.warning] if self._root.warning else []),
            self._store.reason,
            *([self._uid_note] if self._uid_note else []),
        )
        held = ("memory" in parents, "pids" in parents, "cpu" in parents, self._store.quota)
        # bubblewrap is the only wall here: a profile asking for gVisor is refused, not run
        # silently weaker.
        return Enforcement(*held, notes, runtimes=frozenset())

    async def close(self) -> None:
        """Nothing to release: sessions are detached processes that keep running."""

    def _run(self, session_id: str) -> Path:
        return self._runs / host_dirs.checked(session_id, "local")

    async def _launch(self, spec: SessionSpec, run: Path, record: _Record) -> None:
        with host_dirs.mapped(InstanceStartError, f"start {run.name}"):
            self._fill_run_dir(run, record.uid)
        with host_dirs.mapped(InstanceStartError, f"mount the cargo of {run.name}"):
            await asyncio.to_thread(self._mount_cargo, spec.cargo_ref, run, record.uid)
        with host_dirs.mapped(InstanceStartError, f"start {run.name}"):
            # The cpu limit waits for Ship to be ready: until then only Ship's own start-up
            # runs, and its web stack and its kernel boot in parallel on every core.
            dirs = self._cgroups.create(run.name, replace(spec.limits, cpus=0))
            record.cgroups = [str(d) for d in dirs]
            _write_record(run, record)
        log = bwrap.StartLog()
        ready = False
        ready_r, ready_w = os.pipe()
        try:
            code = await self._spawn(spec, run, dirs, ready_w, log, record.uid)
            os.close(ready_w)
            ready_w = -1
            if code == 0:
                ready = await bwrap.wait_ready(ready_r, self._settings.start_timeout_s)
        finally:
            await log.stop(grace=0.0 if ready else 2.0)
            for fd in (ready_r, ready_w):
                if fd >= 0:
                    os.close(fd)
        if code != 0:
            raise InstanceStartError(f"sandbox launcher exited {code}: {log.text()}")
        _find_pids(run, record)
        _write_record(run, record)
        if not ready or not record.processes():
            raise InstanceStartError(f"Ship did not become ready in {run.name}: {log.text()}")
        with host_dirs.mapped(InstanceStartError, f"start {run.name}"):
            self._cgroups.limit_cpu(dirs, spec.limits.cpus)
        self._seal_socket(run)
        if not spec.egress.offline:
            await self._open_network(spec, run, record)

    async def _open_network(self, spec: SessionSpec, run: Path, record: _Record) -> None:
        """Give the sandbox its network: every connection out passes its own proxy."""
        pid, start = record.child_pid, record.child_start
        if pid is None or start is None:
            raise InstanceStartError(f"{run.name}: the sandbox's first process is unknown")
        try:
            await launch.start(
                spec.egress,
                pid,
                lambda: bwrap.alive(pid, start),
                launch.Files(run / "egress.json", run / "egress.log"),
                self._settings.egress.namespace,
            )
        except launch.EgressError as exc:
            raise InstanceStartError(f"{run.name}: {exc}") from exc

    def _seal_socket(self, run: Path) -> None:
        """Freeze the socket dir once Ship listens, so the sandbox cannot swap the socket.

        Bay connects to this path as root; a symlink planted there would point Bay at any
        socket on the host.
        """
        with host_dirs.mapped(InstanceStartError, f"start {run.name}"):
            if self._host_uid is not None:
                (run / "sock").chmod(0o750)
            host_dirs.require_socket(run / "sock" / bwrap.SOCKET_NAME, run.name)

    async def _spawn(
        self,
        spec: SessionSpec,
        run: Path,
        dirs: list[Path],
        ready_fd: int,
        log: bwrap.StartLog,
        uid: int | None,
    ) -> int:
        """Run the launcher; its exit code (0: the sandbox is forked off and starting)."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
        with host_dirs.mapped(InstanceStartError, f"start {run.name}"):
            info_fd = os.open(run / "info.json", flags, 0o600)
            seccomp_fd = bwrap.memory_file("seccomp", self._filter)
            events = self._cgroups.oom_counter(dirs)
            if events is not None:
                (run / "sock" / bwrap.MEMORY_EVENTS_NAME).touch()  # the mount point
            args = self._bwrap_args(spec, run, (ready_fd, info_fd, seccomp_fd), events)
            args_fd = bwrap.args_file(args)
            try:
                procs = cgroups.procs_files(dirs)
                argv = bwrap.launcher(self._tools, uid, procs, args_fd, self._ship)
                fds = (ready_fd, info_fd, args_fd, seccomp_fd)
                return await bwrap.launch(argv, log.write_fd, fds)
            finally:
                log.close_writer()
                for fd in (info_fd, args_fd, seccomp_fd):
                    os.close(fd)

    def _bwrap_args(
        self, spec: SessionSpec, run: Path, fds: tuple[int, int, int], events: Path | None
    ) -> list[str]:
        ready_fd, info_fd, seccomp_fd = fds
        session = bwrap.Session(
            cargo=run / "cargo" if self._ids else self._store.existing(spec.cargo_ref),
            sock_dir=run / "sock",
            etc_dir=run / "etc",
            ready_fd=ready_fd,
            info_fd=info_fd,
            seccomp_fd=seccomp_fd,
            tmp_size_bytes=spec.limits.tmpfs_bytes(self._settings.tmp_size_mb * 1024 * 1024),
            memory_events=events,
        )
        env = bwrap.sandbox_env(self._root, spec, session)
        return bwrap.sandbox_args(self._tools, self._root, session, env)

    def _mount_cargo(self, cargo_ref: str, run: Path, uid: int | None) -> None:
        """With a uid of its own, the session sees the cargo through an idmapped mount: files
        owned by `host_uid` on disk are its own, and what it writes is `host_uid`'s."""
        if self._ids is not None and uid is not None:
            self._bind_as(self._store.existing(cargo_ref), run, uid)

    def _bind_as(self, source: Path, run: Path, uid: int) -> None:
        """Mount `source` at `run`/cargo, its `host_uid` files shown as `uid`'s."""
        (run / "cargo").mkdir(mode=0o700)
        userns = idmap.mapping(bwrap.drop(self._tools, uid), self._settings.host_uid)
        try:
            idmap.bind(source, run / "cargo", userns)
        finally:
            os.close(userns)

    def _session_ids(self, settings: LocalDriverSettings) -> HostIds | None:
        """A uid per session where the host has idmapped mounts; else every sandbox runs as
        `host_uid` (and shares its per-uid kernel limits), which Bay says at startup."""
        ids = HostIds(
            settings.uid_start, settings.uid_count, settings.uid_claims, settings.host_uid
        )
        trial = self._runs / f".idmap-probe-{os.getpid()}"
        _clear_run(trial)  # one a Bay with this pid left
        try:
            (trial / "from").mkdir(parents=True)
            self._bind_as(trial / "from", trial, ids.start)
        except OSError as exc:
            self._uid_note = f"every sandbox runs as host uid {settings.host_uid} ({exc})"
            logger.warning("local driver: no idmapped mounts, so %s", self._uid_note)
            return None
        finally:
            _clear_run(trial)
        self._uid_note = ""
        logger.info("local driver: a host uid per session from %s (%s)", ids.start, ids.count)
        return ids

    async def _teardown(self, run: Path, record: _Record) -> None:
        dirs = [Path(d) for d in record.cgroups]
        victims = [pid for pid, start in record.processes() if bwrap.alive(pid, start)]
        with host_dirs.mapped(DriverError, f"stop {run.name}"):
            for _ in range(50):
                for pid in victims:
                    bwrap.kill(pid)
                await bwrap.wait_gone(victims)
                victims = sorted(cgroups.members(dirs))
                if not victims:
                    break
            for _ in range(50):
                if not cgroups.remove(dirs):
                    break
                await asyncio.sleep(0.02)
            _clear_run(run)
            if self._ids is not None and record.uid is not None:
                self._ids.release(record.uid, run)

    def _make_root(self, directory: Path) -> None:
        # bwrap runs as host_uid and resolves bind sources by path, so host_uid must be able
        # to traverse (not list) down to each cargo and run dir.
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self._host_uid is None:
            directory.chmod(0o700)
            return
        os.chown(directory, 0, self._host_uid)
        directory.chmod(0o710)
        _check_reachable(directory.parent, self._host_uid)

    def _fill_run_dir(self, run: Path, uid: int | None) -> None:
        if uid is not None:
            os.chown(run, 0, uid)
            run.chmod(0o710)
        self._make_sock_dir(run)
        if uid is not None:
            # Group-writable until Ship has bound its socket; see _seal_socket.
            os.chown(run / "sock", 0, uid)
            (run / "sock").chmod(0o770)
        if not self._root.own_etc:
            return
        (run / "etc").mkdir()
        (run / "etc").chmod(0o755)  # explicit: Bay runs with umask 077
        for name, text in bwrap.ETC_FILES.items():
            (run / "etc" / name).write_text(text)
            (run / "etc" / name).chmod(0o644)

    def _make_sock_dir(self, run: Path) -> None:
        """Ship's socket dir, bound at /run/ship. A root Bay keeps it under `socket_dir`, linked
        from the run dir, so the sandbox's mountinfo names no path of the data dir."""
        if self._sockets is None:
            (run / "sock").mkdir(mode=0o700)
            return
        target = self._sockets / run.name
        target.mkdir(mode=0o700)  # the session id is the claim
        (run / "sock").symlink_to(target)

    def _log_enforcement(self) -> None:
        enforced = self.enforcement()
        logger.info(
            "local driver limits: memory=%s pids=%s cpu=%s cargo_quota=%s (%s)",
            enforced.memory,
            enforced.pids,
            enforced.cpu,
            enforced.cargo_quota,
            "; ".join(enforced.notes),
        )
        if not (enforced.memory and enforced.pids and enforced.cpu):
            logger.warning("local driver: sandboxes start without some limits: %s", enforced.notes)


def _root(settings: LocalDriverSettings, data_dir: Path) -> rootfs.Root:
    """The sandbox environment when one is set; else the host's /usr and Ship's venv."""
    if settings.rootfs is not None:
        return rootfs.sandbox_root(settings.rootfs.absolute())
    venv = (settings.ship_venv or Path(sys.prefix)).absolute()
    root = rootfs.host_root(venv, data_dir)
    logger.warning("%s", root.warning)
    return root


def _socket_dir(path: Path) -> Path:
    """Where a root Bay's sessions keep their socket dirs; session uids pass through it."""
    path.mkdir(mode=0o711, parents=True, exist_ok=True)
    path.chmod(0o711)
    return path


def _clear_run(run: Path) -> None:
    """Remove a run dir, after detaching the cargo mounted in it: rmtree would go on into
    the cargo and delete the user's files. A socket dir kept elsewhere goes with it."""
    idmap.unbind(run / "cargo")
    if (run / "sock").is_symlink():
        shutil.rmtree((run / "sock").readlink(), ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(run)


def _check_reachable(directory: Path, uid: int) -> None:
    for path in [directory, *directory.parents]:
        st = path.stat()
        if not (st.st_mode & 0o001 or (st.st_gid == uid and st.st_mode & 0o010)):
            raise DriverError(
                f"host uid {uid} cannot traverse {path}; sandboxes must reach the data dir "
                f"and Ship's venv: chmod o+x {path} (or chgrp {uid} and chmod g+x)"
            )


def _read_record(run: Path) -> _Record | None:
    try:
        record = _Record(**json.loads((run / "session.json").read_text()))
        Labels.from_dict(record.labels)
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return record


def _write_record(run: Path, record: _Record) -> None:
    tmp = run / "session.json.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(asdict(record)))
    tmp.replace(run / "session.json")


def _find_pids(run: Path, record: _Record) -> None:
    """Learn the sandbox's pid-1 from bwrap's --info-fd and bwrap's pid as its parent.

    Only processes started after the launch count, so a recycled pid is never taken for ours.
    """
    if record.child_pid is not None:
        return
    try:
        child = int(json.loads((run / "info.json").read_text())["child-pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return
    proc = bwrap.proc_stat(child)
    if proc is None or proc.start < record.launched:
        return
    record.child_pid, record.child_start = child, proc.start
    parent = bwrap.proc_stat(proc.ppid)
    if parent is not None and parent.start >= record.launched:
        record.pid, record.pid_start = proc.ppid, parent.start


def _state(run: Path, record: _Record) -> InstanceState:
    _find_pids(run, record)
    processes = record.processes()
    alive = bool(processes) and all(bwrap.alive(pid, start) for pid, start in processes)
    return InstanceState.RUNNING if alive else InstanceState.EXITED


def _utc_now() -> str:
    return datetime.now(UTC).isoformat()


def _walls(spec: SessionSpec) -> Limits:
    """The sandbox's limits: Ship's, plus the browser's when one runs inside the same walls
    (a limit of 0 or less stays none)."""
    ship, browser = spec.limits, spec.browser.limits if spec.browser else None
    if browser is None:
        return ship

    def both(a: float, b: float) -> float:
        return a + b if a > 0 and b > 0 else 0

    return Limits(
        cpus=both(ship.cpus, browser.cpus),
        memory_bytes=int(both(ship.memory_bytes, browser.memory_bytes)),
        pids=int(both(ship.pids, browser.pids)),
    )
