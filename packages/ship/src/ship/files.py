"""The workspace and its path jail: every path is resolved inside it (symlinks too) before use."""

import asyncio
import errno
import os
import posixpath
import shutil
import stat
import tempfile
from collections.abc import AsyncIterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

from ship.errors import (
    InvalidFileError,
    InvalidPathError,
    PathNotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
)
from shipyard_protocol.ship import FileEntry

_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
_WRITE_SIZE = 1024 * 1024
# The text API answers a file in one JSON body; larger files go through download, which
# streams. (Escaped as JSON, 8 MiB of text stays under what Bay accepts from Ship.)
TEXT_READ_LIMIT = 8 * 1024 * 1024


@contextmanager
def os_errors(rel: str) -> Iterator[None]:
    """Translate the OS errors a file operation can meet into Ship errors about `rel`."""
    details = {"path": rel}
    try:
        yield
    except FileNotFoundError as exc:
        raise PathNotFoundError(f"no such file or directory: {rel}", details) from exc
    except IsADirectoryError as exc:
        raise InvalidFileError(f"is a directory: {rel}", details) from exc
    except NotADirectoryError as exc:
        raise InvalidFileError(f"not a directory: {rel}", details) from exc
    except PermissionError as exc:
        raise PermissionDeniedError(f"permission denied: {rel}", details) from exc
    except OSError as exc:
        if exc.errno in _NO_SPACE:
            raise QuotaExceededError("no space left on the cargo", details) from exc
        if exc.errno == errno.ENAMETOOLONG:
            raise _invalid(rel, "name_too_long") from exc
        raise


class Workspace:
    """The directory the sandbox works in; paths given to it are relative to it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._real_root = root.resolve()

    def resolve(self, rel: str) -> Path:
        """The real path of `rel`, or `InvalidPathError` if it leaves the workspace."""
        if "\x00" in rel:
            raise _invalid(rel, "nul_byte")
        if posixpath.isabs(rel):
            raise _invalid(rel, "absolute_path")
        try:
            real = (self._real_root / rel).resolve()
        except (RuntimeError, OSError) as exc:
            raise _invalid(rel, "unresolvable") from exc
        if not real.is_relative_to(self._real_root):
            raise _invalid(rel, "outside_workspace")
        return real

    def directory(self, rel: str) -> Path:
        """The real path of `rel`, which must be an existing directory in the workspace."""
        path = self.resolve(rel)
        if not path.is_dir():
            raise _invalid(rel, "not_a_directory")
        return path

    def read_text(self, rel: str) -> str:
        path = self.resolve(rel)
        with os_errors(rel), path.open("rb") as file:
            data = file.read(TEXT_READ_LIMIT + 1)
        if len(data) > TEXT_READ_LIMIT:
            raise InvalidFileError(
                f"{rel} is larger than the {TEXT_READ_LIMIT // 2**20} MiB the text API returns; "
                "download it instead (GET .../filesystem/download streams any size)",
                {"path": rel, "limit_bytes": TEXT_READ_LIMIT},
            )
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidFileError(f"not UTF-8 text: {rel}", {"path": rel}) from exc

    def write_text(self, rel: str, content: str) -> int:
        """Replace `rel` whole or not at all: a write that fails (a full cargo) keeps the old."""
        path = self.resolve(rel)
        data = content.encode("utf-8")
        with os_errors(rel):
            path.parent.mkdir(parents=True, exist_ok=True)
            with _replacing(path) as out:
                out.write(data)
        return len(data)

    def delete(self, rel: str) -> None:
        """Unlink a file or symlink, or remove a directory tree."""
        path = self.resolve(rel)
        if path == self._real_root:
            raise _invalid(rel, "workspace_root")
        entry = self.resolve(posixpath.dirname(rel) or ".") / posixpath.basename(rel)
        with os_errors(rel):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    def list_dir(self, rel: str) -> list[FileEntry]:
        path = self.resolve(rel)
        display = posixpath.normpath(posixpath.join(str(self.root), rel))
        with os_errors(rel), os.scandir(path) as found:
            entries = [_entry(item, display) for item in found if not item.name.startswith(".")]
        return sorted(entries, key=lambda e: (not e.is_dir, e.name.casefold(), e.name))

    def file(self, rel: str) -> Path:
        """The real path of `rel`, which must be an existing regular file."""
        path = self.resolve(rel)
        with os_errors(rel):
            mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise InvalidFileError(f"not a regular file: {rel}", {"path": rel})
        return path

    async def upload(self, rel: str, chunks: AsyncIterable[bytes]) -> int:
        """Stream `chunks` into a temp file beside `rel`, then rename it into place."""
        path = self.resolve(rel)
        if path == self._real_root or path.is_dir():
            raise InvalidFileError(f"is a directory: {rel}", {"path": rel})
        with os_errors(rel):
            path.parent.mkdir(parents=True, exist_ok=True)
            with _replacing(path) as out:
                return await _write_chunks(out, chunks)


@contextmanager
def _replacing(path: Path) -> Iterator[BinaryIO]:
    """A temp file beside `path` that replaces it when the block ends without an error."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".upload-", suffix=".part")
    try:
        os.fchmod(fd, _mode_for(path))
        with os.fdopen(fd, "wb") as out:
            yield out
        os.replace(temp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temp)
        raise


def _mode_for(path: Path) -> int:
    """The mode the file has, else what a plain create gives under the usual umask (022)."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return 0o644


async def _write_chunks(out: BinaryIO, chunks: AsyncIterable[bytes]) -> int:
    """Write `chunks` to `out` in a worker thread, about `_WRITE_SIZE` bytes at a time."""
    size = 0
    pending = bytearray()
    async for chunk in chunks:
        pending += chunk
        size += len(chunk)
        if len(pending) >= _WRITE_SIZE:
            await asyncio.to_thread(out.write, bytes(pending))
            pending.clear()
    await asyncio.to_thread(out.write, bytes(pending))
    return size


def _entry(item: os.DirEntry[str], display_dir: str) -> FileEntry:
    try:
        info = item.stat()
    except OSError:
        info = item.stat(follow_symlinks=False)
    is_dir = stat.S_ISDIR(info.st_mode)
    return FileEntry(
        name=item.name,
        path=posixpath.join(display_dir, item.name),
        is_file=stat.S_ISREG(info.st_mode),
        is_dir=is_dir,
        size=None if is_dir else info.st_size,
        modified_time=info.st_mtime,
    )


def _invalid(rel: str, reason: str) -> InvalidPathError:
    return InvalidPathError(f"invalid path {rel!r}: {reason}", {"path": rel, "reason": reason})
