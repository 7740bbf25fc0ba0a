"""What the host drivers (local, docker) share on disk: safe names, run dirs, Ship's socket."""

import contextlib
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

from bay.drivers.base import DriverError, InstanceStartError

# A session or cargo id used as one path component (and a container name): never `..` or `/`.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_SOCKET_PATH_MAX = 107  # sun_path is 108 bytes including the terminating NUL


def checked(name: str, driver: str) -> str:
    """`name`, refused with a DriverError unless it is safe as one path component."""
    if not NAME.fullmatch(name):
        raise DriverError(f"invalid name for a {driver} driver resource: {name!r}")
    return name


def check_socket_path(socket: Path) -> None:
    """Refuse a start whose Ship socket could not be bound: its path is too long."""
    if len(os.fsencode(socket)) > _SOCKET_PATH_MAX:
        raise InstanceStartError(f"socket path too long for a Unix socket: {socket}")


def claim(run: Path) -> None:
    """Make a session's run dir; a session that already has one keeps it (FileExistsError)."""
    run.mkdir(mode=0o700)


def is_socket(path: Path) -> bool:
    """True for a socket itself; a symlink to one does not count."""
    try:
        return stat.S_ISSOCK(path.lstat().st_mode)
    except FileNotFoundError:
        return False


def require_socket(socket: Path, session_id: str) -> None:
    """Refuse a session whose sandbox put something else where Ship's socket belongs."""
    if not is_socket(socket):
        raise InstanceStartError(f"{session_id}: Ship's socket is not a socket")


@contextlib.contextmanager
def mapped(error: type[DriverError], what: str) -> Iterator[None]:
    """Translate OS failures into the driver's error tree at the boundary."""
    try:
        yield
    except OSError as exc:
        raise error(f"{what}: {exc}") from exc
