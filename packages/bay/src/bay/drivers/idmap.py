"""Idmapped mounts (Linux 5.12+): a cargo's files, owned on disk by one uid, appear owned by
the uid of whichever session mounts them, so each session can have a host uid of its own
while the files keep theirs across sessions."""

import ctypes
import os
import subprocess
from pathlib import Path

_AT_FDCWD = -100
_AT_EMPTY_PATH = 0x1000
_OPEN_TREE_CLONE = 1
_MOUNT_ATTR_IDMAP = 0x00100000
_MOVE_MOUNT_F_EMPTY_PATH = 0x4
_MNT_DETACH = 2
_SYS_OPEN_TREE, _SYS_MOVE_MOUNT, _SYS_MOUNT_SETATTR = 428, 429, 442  # the same on every arch


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def mapping(drop: list[str], disk_id: int) -> int:
    """An fd of a user namespace mapping `disk_id` inside to the uid and gid `drop` runs as.

    `drop` (setpriv to the session's uid) runs unshare, which writes the maps and then starts
    a shell that says so; the fd keeps the namespace once the shell has gone.
    """
    maps = [f"--map-user={disk_id}", f"--map-group={disk_id}"]
    argv = [*drop, "unshare", "--user", *maps, "--", "/bin/sh", "-c", "echo; read _"]
    read_ready, write_ready = os.pipe2(os.O_CLOEXEC)
    read_done, write_done = os.pipe2(os.O_CLOEXEC)
    try:
        holder = subprocess.Popen(  # noqa: S603 - our own argv, no shell input
            argv, stdin=read_done, stdout=write_ready, stderr=subprocess.DEVNULL
        )
        os.close(write_ready)
        write_ready = -1
        try:
            if os.read(read_ready, 1) != b"\n":
                raise OSError(f"unshare failed (exit {holder.wait(timeout=10)})")
            return os.open(f"/proc/{holder.pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
        finally:
            os.close(write_done)
            write_done = -1
            holder.wait(timeout=10)
    finally:
        for fd in (read_ready, write_ready, read_done, write_done):
            if fd >= 0:
                os.close(fd)


def bind(source: Path, target: Path, userns: int) -> None:
    """Mount `source` at `target` with the ids of `userns`'s map (OSError when not supported)."""
    libc = _libc()
    tree = libc.syscall(
        _SYS_OPEN_TREE, _AT_FDCWD, os.fsencode(source), _OPEN_TREE_CLONE | os.O_CLOEXEC
    )
    _check(tree, "open_tree", source)
    try:
        attr = _MountAttr(_MOUNT_ATTR_IDMAP, 0, 0, userns)
        size = ctypes.sizeof(attr)
        _check(
            libc.syscall(_SYS_MOUNT_SETATTR, tree, b"", _AT_EMPTY_PATH, ctypes.byref(attr), size),
            "mount_setattr",
            source,
        )
        moved = libc.syscall(
            _SYS_MOVE_MOUNT, tree, b"", _AT_FDCWD, os.fsencode(target), _MOVE_MOUNT_F_EMPTY_PATH
        )
        _check(moved, "move_mount", target)
    finally:
        os.close(tree)


def unbind(target: Path) -> None:
    """Detach whatever is mounted at `target`; nothing mounted there is fine."""
    while mounted(target):
        _check(_libc().umount2(os.fsencode(target), _MNT_DETACH), "umount", target)


def mounted(path: Path) -> bool:
    """Whether something is mounted at `path` (a bind from the same filesystem included,
    which os.path.ismount cannot tell)."""
    with open("/proc/self/mountinfo", "rb") as table:
        points = {line.split()[4] for line in table}
    return _escaped(path) in points


def _escaped(path: Path) -> bytes:
    raw = os.fsencode(path)
    for char in b"\\ \t\n":
        raw = raw.replace(bytes([char]), b"\\%03o" % char)
    return raw


def _check(result: int, what: str, path: Path) -> None:
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what} {path}: {os.strerror(code)}")


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc
