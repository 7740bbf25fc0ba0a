"""Wait for a file to appear in a directory without polling: Linux inotify through libc."""

import asyncio
import ctypes
import os
from pathlib import Path

_IN_CLOSE_WRITE = 0x008
_IN_MOVED_TO = 0x080
_IN_CREATE = 0x100


async def wait_for_file(directory: Path, name: str) -> None:
    """Return once `directory/name` exists, waiting on inotify events (no timer).

    Raises OSError when inotify cannot be used here.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    if fd < 0:
        raise OSError(ctypes.get_errno(), "inotify_init1 failed")
    try:
        # gVisor's gofer creates the file on the host but may hold it open: creation counts.
        mask = _IN_CREATE | _IN_CLOSE_WRITE | _IN_MOVED_TO
        if libc.inotify_add_watch(fd, os.fsencode(directory), mask) < 0:
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {directory} failed")
        # Checked after the watch is in place, so an early write cannot be missed.
        while not (directory / name).exists():
            await readable(fd)
            _drain(fd)
    finally:
        os.close(fd)


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        return


async def readable(fd: int) -> None:
    """Until `fd` is readable (an inotify queue, a pidfd, a pipe), without a timer."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        loop.remove_reader(fd)
