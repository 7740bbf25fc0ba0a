"""Host uids for local sandboxes: one per session from a configured range, never a user's.

Per-uid kernel state (keyrings, inotify instances, process and memlock limits) is then each
sandbox's own. A uid is claimed host-wide with a symlink to the session's run dir, so Bays with
other data dirs on the same host never hand out the same one, and it is recycled only when
that run dir is gone and no process runs as it.
"""

import grp
import os
import pwd
from pathlib import Path

from bay.drivers.base import DriverUnavailableError, InstanceStartError


class HostIds:
    """The range [start, start + count) of host uids (each also its own gid)."""

    def __init__(self, start: int, count: int, claims: Path, reserved: int) -> None:
        self.start, self.count = start, count
        _check_range(start, count, reserved)
        self._claims = claims
        claims.mkdir(mode=0o700, parents=True, exist_ok=True)

    def claim(self, run: Path) -> int:
        """A free uid, now held by `run` until `release`."""
        for uid in range(self.start, self.start + self.count):
            link = self._claims / str(uid)
            if link.is_symlink() and self._stale(link, uid):
                link.unlink(missing_ok=True)
            try:
                os.symlink(run, link)
            except FileExistsError:
                continue
            if not _running_as(uid):
                return uid
            link.unlink(missing_ok=True)
        raise InstanceStartError(f"all {self.count} sandbox uids from {self.start} are in use")

    def release(self, uid: int, run: Path) -> None:
        link = self._claims / str(uid)
        try:
            if os.readlink(link) == str(run):
                link.unlink()
        except FileNotFoundError:
            pass

    @staticmethod
    def _stale(link: Path, uid: int) -> bool:
        return not Path(os.readlink(link)).exists() and not _running_as(uid)


def _running_as(uid: int) -> bool:
    """Whether any process on the host runs as `uid` (its /proc dir belongs to its euid)."""
    with os.scandir("/proc") as entries:
        for entry in entries:
            try:
                if entry.name.isdigit() and entry.stat().st_uid == uid:
                    return True
            except FileNotFoundError:
                continue
    return False


def _check_range(start: int, count: int, reserved: int) -> None:
    end = start + count
    if start < 1000 or count < 1 or end > 2**32 - 2:
        raise DriverUnavailableError(f"sandbox uid range {start}+{count} is not usable")
    taken = [f"user {u.pw_name} ({u.pw_uid})" for u in pwd.getpwall() if start <= u.pw_uid < end]
    taken += [f"group {g.gr_name} ({g.gr_gid})" for g in grp.getgrall() if start <= g.gr_gid < end]
    if start <= reserved < end:
        taken.append(f"the cargo owner uid {reserved}")
    for path in (Path("/etc/subuid"), Path("/etc/subgid")):
        taken += [f"{path}: {line}" for line in _subordinate(path) if _overlaps(line, start, end)]
    if taken:
        raise DriverUnavailableError(
            f"sandbox uid range {start}-{end - 1} overlaps {', '.join(taken[:5])}: "
            "set driver.local.uid_start / uid_count to ids no one else has"
        )


def _subordinate(path: Path) -> list[str]:
    try:
        return [line for line in path.read_text().splitlines() if line.count(":") == 2]
    except OSError:
        return []


def _overlaps(line: str, start: int, end: int) -> bool:
    _, first, size = line.split(":")
    try:
        low, high = int(first), int(first) + int(size)
    except ValueError:
        return False
    return low < end and start < high
