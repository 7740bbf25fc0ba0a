"""Run a real Bay (`python -m bay serve`) as a subprocess on a free loopback port."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests import postgres

REPO = Path(__file__).resolve().parents[1]
SHIP_VENV = REPO / ".venv-ship"
# The sandbox environment (`make rootfs`); without it the local driver runs over the host's /usr.
SANDBOX_ROOTFS = REPO / ".tools" / "sandbox" / "rootfs"
API_KEY = "sk-integration-admin"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def traversable_tmp() -> Iterator[Path]:
    """A temp dir the sandboxes' unprivileged host uid can pass through (pytest's is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="bay-", dir="/tmp"))
    path.chmod(0o711)
    try:
        yield path
    finally:
        unmount_under(path)
        shutil.rmtree(path, ignore_errors=True)


def unmount_under(path: Path) -> None:
    """Cargo images a failed test left mounted would pin loop devices across runs."""
    with open("/proc/mounts") as mounts:
        points = [line.split()[1] for line in mounts if line.split()[1].startswith(f"{path}/")]
    for point in sorted(points, reverse=True):
        subprocess.run(["umount", "--lazy", point], check=False, capture_output=True)


def sandbox_rootfs() -> Path | None:
    """The sandbox environment this checkout built, if it has one."""
    return SANDBOX_ROOTFS if SANDBOX_ROOTFS.exists() else None


def local_driver_missing() -> str | None:
    """Why the local driver cannot run here, or None when it can."""
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed"
    if not (SHIP_VENV / "bin" / "python").exists():
        return f"Ship's venv {SHIP_VENV} is missing (run `make sync`)"
    probe = subprocess.run(
        ["bwrap", "--unshare-all", "--ro-bind", "/", "/", "true"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        return f"bwrap cannot create namespaces here: {probe.stderr.decode()[:200]}"
    return None


class BayProcess:
    """A Bay server on its own data dir; `restart()` keeps the data dir and the sessions."""

    def __init__(
        self,
        data_dir: Path,
        config: dict[str, Any],
        driver: str = "local",
        database_url: str | None = None,
        name: str = "bay",
    ) -> None:
        """`database_url` and `name`: replicas share a data dir and a database (default: a
        SQLite file in the data dir, or a new database under `--database=postgres`)."""
        self.driver = driver
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_file = data_dir.parent / f"{data_dir.name}-{name}-config.yaml"
        self.config_file.write_text(yaml.safe_dump(config))
        self.log = data_dir.parent / f"{data_dir.name}-{name}.log"
        # Bay's default is the host name: every test Bay on this machine would share it, and a
        # Bay's reconcile stops the containers of its id that it has no row for.
        self.instance_id = str(config.get("instance_id") or f"bay-test-{uuid.uuid4().hex[:8]}")
        self._process: subprocess.Popen[bytes] | None = None
        # Under `--database=postgres` a database of its own, kept across restarts like the data
        # dir; it goes with the test run's server.
        server = postgres.in_use()
        if database_url is None and server is not None:
            database_url = postgres.fresh_database(server)
        self.database_url = database_url

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "BAY_DATA_DIR": str(self.data_dir),
            "BAY_API_KEY": API_KEY,
            "BAY_CONFIG_FILE": str(self.config_file),
            "BAY_SERVER__PORT": str(self.port),
            "BAY_DRIVER__TYPE": self.driver,
            "BAY_INSTANCE_ID": self.instance_id,
            "BAY_DRIVER__LOCAL__SHIP_VENV": str(SHIP_VENV),
            **({"BAY_DRIVER__LOCAL__ROOTFS": str(r)} if (r := sandbox_rootfs()) else {}),
            **({"BAY_DATABASE__URL": self.database_url} if self.database_url else {}),
        }

    def start(self) -> None:
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "bay", "serve"], env=self.env(), stdout=log, stderr=log
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"Bay exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"Bay did not come up: {self.log.read_text()[-3000:]}")

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def stop(self, timeout: float = 20) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """SIGKILL: Bay ends without a word to anyone, as when its machine or data dir is lost."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def client(self, timeout: float = 120) -> httpx.Client:
        headers = {"Authorization": f"Bearer {API_KEY}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)


@contextmanager
def serving(config: dict[str, Any], driver: str = "local") -> Iterator[BayProcess]:
    """A started Bay on a fresh data dir; its sandboxes are deleted and it is stopped after."""
    with traversable_tmp() as base:
        server = BayProcess(base / "data", config, driver)
        server.start()
        try:
            yield server
        finally:
            with server.client() as client:
                for item in client.get("/v1/sandboxes", params={"limit": 200}).json()["items"]:
                    client.delete(f"/v1/sandboxes/{item['id']}")
            server.stop()


def clean_up(bay: BayProcess, docker_networks: Sequence[str] = ()) -> None:
    """Delete every sandbox the test's Bay made, stop it, then remove its Docker networks."""
    with bay.client() as client:
        for item in client.get("/v1/sandboxes", params={"limit": 200}).json()["items"]:
            client.delete(f"/v1/sandboxes/{item['id']}")
    bay.stop()
    for network in docker_networks:
        subprocess.run(["docker", "network", "rm", network], capture_output=True, check=False)
