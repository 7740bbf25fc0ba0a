"""A throwaway PostgreSQL server for the tests, and a fresh database on it per Bay.

`Cluster` runs Debian's `postgres` (the `postgresql` package) on a temp data dir, reached by
a Unix socket in a directory only its user may enter, started and stopped by pid. Each Bay
under test gets a database of its own (`fresh_database`), so tests never see each other's rows;
they go with the cluster.
"""

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# An existing server to use instead of a throwaway one: a libpq URL whose user may create
# databases, e.g. postgresql://postgres@/postgres?host=/var/run/postgresql
SERVER_ENV = "BAY_TEST_POSTGRES_URL"
# Set by the session fixture (tests/conftest.py) under `--database=postgres`: the server the
# Bays under test keep their rows on; Bay processes started by the tests read it too.
ACTIVE_ENV = "BAY_TEST_DATABASE_SERVER"
BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
# Durability buys nothing for a server deleted at the end of the run.
# Every row goes but the schema version's; a schema a test moved off its version (as the
# readiness check's test does) goes whole, for the next Bay to migrate again.
EMPTY_TABLES = """
SET lock_timeout = '10s';
DO $$ DECLARE tables text; BEGIN
  IF to_regclass('public.alembic_version') IS NOT NULL THEN
    IF (SELECT string_agg(version_num, ',') FROM alembic_version) = '{head}' THEN
      SELECT string_agg(quote_ident(tablename), ', ') INTO tables FROM pg_tables
       WHERE schemaname = 'public' AND tablename <> 'alembic_version';
      IF tables IS NOT NULL THEN EXECUTE 'TRUNCATE ' || tables || ' CASCADE'; END IF;
      RETURN;
    END IF;
  END IF;
  DROP SCHEMA public CASCADE;
  CREATE SCHEMA public;
END $$;
"""
FAST = ("fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=400")


def binary(name: str) -> str | None:
    """A PostgreSQL server program: on PATH, else Debian's versioned directory."""
    found = shutil.which(name)
    if found is not None:
        return found
    for directory in BIN_DIRS:
        if (directory / name).exists():
            return str(directory / name)
    return None


def missing() -> str | None:
    """Why no throwaway server can start here, or None when one can."""
    if binary("initdb") is None or binary("postgres") is None:
        return "PostgreSQL is not installed (Debian: apt-get install postgresql)"
    if shutil.which("psql") is None:
        return "psql is not installed (Debian: postgresql-client)"
    if os.geteuid() == 0 and _user("postgres") is None:
        return "running as root and there is no `postgres` user to run the server as"
    return None


@dataclass(frozen=True)
class Server:
    """Where a running server answers: `admin_url` for libpq (psql), `url(db)` for Bay."""

    socket_dir: Path
    user: str

    @property
    def admin_url(self) -> str:
        return f"postgresql://{self.user}@/postgres?host={self.socket_dir}"

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://{self.user}@/{database}?host={self.socket_dir}"

    @classmethod
    def from_admin_url(cls, admin_url: str) -> "Server":
        user = admin_url.split("://", 1)[1].split("@", 1)[0]
        return cls(Path(admin_url.rsplit("host=", 1)[1]), user)


@contextmanager
def cluster() -> Iterator[Server]:
    """initdb into a temp dir, start `postgres` there, and stop it (by pid) and delete it after."""
    runner = _user("postgres") if os.geteuid() == 0 else None
    base = Path(tempfile.mkdtemp(prefix="bay-pg-", dir="/tmp"))
    if runner is not None:
        os.chown(base, runner.pw_uid, runner.pw_gid)
    user = runner.pw_name if runner is not None else pwd.getpwuid(os.geteuid()).pw_name
    data = base / "data"
    try:
        _run_as(runner, [_need("initdb"), "-D", str(data), "-A", "trust", "-U", user, "-E", "UTF8"])
        server = Server(base, user)
        process = _start(runner, data, base)
        try:
            _wait_ready(server, process)
            yield server
        finally:
            process.send_signal(signal.SIGINT)  # fast shutdown: running sessions are ended
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def fresh_database(server: Server) -> str:
    """A new empty database on the server; Bay's URL for it."""
    name = f"{run_prefix()}{uuid.uuid4().hex[:12]}"
    psql(server, f'CREATE DATABASE "{name}" STRATEGY FILE_COPY')
    return server.url(name)


def run_prefix() -> str:
    """The names of this test run's databases start with this (the Bays are its children)."""
    return f"baytest_{os.getpid()}_"


def drop_run_databases(server: Server) -> None:
    """On a server that outlives the run: drop what this run created."""
    # The prefix is ours: letters, digits and underscores.
    query = f"SELECT datname FROM pg_database WHERE datname LIKE '{run_prefix()}%'"  # noqa: S608
    names = psql(server, query)
    for name in names.split():
        psql(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def drop_database(server: Server, url: str) -> None:
    psql(server, f'DROP DATABASE IF EXISTS "{_name(url)}" WITH (FORCE)')


def _name(url: str) -> str:
    return url.split("?", 1)[0].rsplit("/", 1)[1]


def empty_database(server: Server, url: str, head: str) -> None:
    """Delete every row but those of the schema version `head`: cheaper than a new database
    per test."""
    psql(server, EMPTY_TABLES.replace("{head}", head), database=_name(url))


def psql(server: Server, sql: str, database: str = "postgres") -> str:
    target = server.admin_url.replace("/postgres?", f"/{database}?", 1)
    done = subprocess.run(
        ["psql", target, "-XAtqv", "ON_ERROR_STOP=1", "-c", sql],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"psql {sql!r}: {done.stderr.strip()}")
    return done.stdout


def _start(
    runner: pwd.struct_passwd | None, data: Path, socket_dir: Path
) -> "subprocess.Popen[bytes]":
    settings = [arg for setting in FAST for arg in ("-c", setting)]
    command = [_need("postgres"), "-D", str(data), "-k", str(socket_dir), "-c", "listen_addresses="]
    log = (data / "server.log").open("ab")
    with log:
        return subprocess.Popen(
            [*command, *settings],
            stdout=log,
            stderr=log,
            user=runner.pw_uid if runner else None,
            group=runner.pw_gid if runner else None,
            extra_groups=[] if runner else None,
        )


def _wait_ready(server: Server, process: "subprocess.Popen[bytes]") -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("postgres exited at start; see its server.log")
        try:
            psql(server, "SELECT 1")
            return
        except RuntimeError:
            time.sleep(0.1)
    raise RuntimeError("postgres did not accept connections within 30 s")


def _run_as(runner: pwd.struct_passwd | None, command: list[str]) -> None:
    subprocess.run(
        command,
        check=True,
        capture_output=True,
        user=runner.pw_uid if runner else None,
        group=runner.pw_gid if runner else None,
        extra_groups=[] if runner else None,
    )


def _need(name: str) -> str:
    found = binary(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed (Debian: apt-get install postgresql)")
    return found


def _user(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def in_use() -> Server | None:
    """The server this test run puts Bay's databases on (`pytest --database=postgres`), if any."""
    admin_url = os.environ.get(ACTIVE_ENV)
    return Server.from_admin_url(admin_url) if admin_url else None
