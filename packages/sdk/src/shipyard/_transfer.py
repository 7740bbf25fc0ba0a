"""Streamed file transfers: open what the caller gave (a path or a binary file), count bytes."""

import io
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

Source = str | os.PathLike[str] | BinaryIO | bytes
Target = str | os.PathLike[str] | BinaryIO
Progress = Callable[[int, int | None], None]
"""Called as `progress(done, total)` after each chunk; `total` is None when unknown."""

CHUNK = 1024 * 1024


@contextmanager
def open_source(source: Source, progress: Progress | None = None) -> Iterator[BinaryIO]:
    """A readable binary stream over `source`; a path is opened here and closed after."""
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    if not isinstance(source, str | os.PathLike):
        yield source if progress is None else _counted(source, progress)
        return
    with Path(source).open("rb") as stream:
        yield stream if progress is None else _counted(stream, progress)


@contextmanager
def open_target(target: Target) -> Iterator[BinaryIO]:
    """A writable binary stream; a path is created here and removed again if writing fails."""
    if not isinstance(target, str | os.PathLike):
        yield target
        return
    path = Path(target)
    try:
        with path.open("wb") as stream:
            yield stream
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def size_of(stream: BinaryIO) -> int | None:
    """The stream's length in bytes, when a file descriptor or seeking can tell."""
    try:
        info = os.fstat(stream.fileno())
    except (OSError, AttributeError):
        pass
    else:
        if stat.S_ISREG(info.st_mode):
            return info.st_size
    if not stream.seekable():
        return None
    here = stream.tell()
    end = stream.seek(0, os.SEEK_END)
    stream.seek(here)
    return end


class Receiver:
    """Writes downloaded chunks to a stream and reports progress."""

    def __init__(self, stream: BinaryIO, total: int | None, progress: Progress | None) -> None:
        self.stream = stream
        self.total = total
        self.done = 0
        self._progress = progress

    def write(self, chunk: bytes) -> None:
        self.stream.write(chunk)
        self.done += len(chunk)
        if self._progress is not None:
            self._progress(self.done, self.total)


def _counted(stream: BinaryIO, progress: Progress) -> BinaryIO:
    return io.BufferedReader(_Counted(stream, progress), buffer_size=CHUNK)


class _Counted(io.RawIOBase):
    """A read-through view of a stream that reports how far reading has got."""

    def __init__(self, stream: BinaryIO, progress: Progress) -> None:
        super().__init__()
        self._stream = stream
        self._progress = progress
        self._total = size_of(stream)
        self._done = stream.tell() if stream.seekable() else 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._stream.seekable()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self._done = self._stream.seek(offset, whence)
        return self._done

    def tell(self) -> int:
        return self._done

    def readinto(self, buffer: "WriteableBuffer") -> int:
        view = memoryview(buffer).cast("B")
        data = self._stream.read(len(view))
        view[: len(data)] = data
        self._done += len(data)
        self._progress(self._done, self._total)
        return len(data)
