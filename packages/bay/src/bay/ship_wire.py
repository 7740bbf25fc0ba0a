"""A lean HTTP/1.1 client for Ship's one-answer calls (an execution, a file, a health check).

Every warm execution crosses Bay -> Ship once; through httpx that hop cost Bay about two
milliseconds of CPU (a fifth of its work per call). These calls need little of httpx: one
request with a small body, one answer with a length, on a kept-alive connection over a Unix
socket or TCP. Streams (events, downloads, uploads) stay on httpx.
"""

import asyncio
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_HEAD_BYTES = 64 * 1024
IDLE_KEPT = 8
# Ship's server closes a connection idle for 5 s; reusing one near that races its close.
IDLE_EXPIRY_S = 4.0
# A connection is made in well under a second or not at all (a gone container's address).
CONNECT_TIMEOUT_S = 5.0
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")


class WireError(ConnectionError):
    """The call failed on the way: no connection, a cut one, or an answer that is not HTTP."""


class RefusedError(WireError):
    """No connection was made: the request never reached Ship."""


class AnswerTooLarge(WireError):
    """The answer's body passed the cap (the sandbox may have replaced Ship)."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0

    def reusable(self) -> bool:
        fresh = time.monotonic() - self.idle_since < IDLE_EXPIRY_S
        return fresh and not self.reader.at_eof() and not self.writer.is_closing()

    def close(self) -> None:
        self.writer.close()


class ShipWire:
    """Kept-alive connections to one Ship endpoint (`unix:/path` or `http://host:port`)."""

    def __init__(self, endpoint: str, headers: Mapping[str, str] | None = None) -> None:
        self._endpoint = endpoint
        self._head = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        self._idle: list[_Connection] = []
        self._closed = False

    async def call(
        self, method: str, path: str, body: bytes | None, timeout: float, cap: int
    ) -> Answer:
        """Send one request and read its whole answer (at most `cap` bytes of body)."""
        request = self._request(method, path, body)
        try:
            async with asyncio.timeout(timeout):
                connection = self._reused() or await self._connect()
                try:
                    connection.writer.write(request)
                    answer, keep = await _read_answer(connection.reader, cap)
                except BaseException:
                    connection.close()
                    raise
        except (WireError, TimeoutError):
            raise
        except (OSError, EOFError, ValueError, asyncio.LimitOverrunError) as exc:
            # A reset, a broken pipe, or an answer only a broken (or replaced) Ship would send.
            raise WireError(f"the call failed on the way: {exc!r}") from exc
        if keep and not self._closed and len(self._idle) < IDLE_KEPT:
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
        else:
            connection.close()
        return answer

    def close(self) -> None:
        """Close the idle connections; one a running call returns later is closed then."""
        self._closed = True
        while self._idle:
            self._idle.pop().close()

    def _reused(self) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()
            if connection.reusable():
                return connection
            connection.close()
        return None

    async def _connect(self) -> _Connection:
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                return await self._open()
        except TimeoutError as exc:
            raise RefusedError(f"cannot connect in {CONNECT_TIMEOUT_S:g} s") from exc
        except OSError as exc:
            raise RefusedError(f"cannot connect: {exc}") from exc

    async def _open(self) -> _Connection:
        if self._endpoint.startswith("unix:"):
            path = self._endpoint.removeprefix("unix:")
            reader, writer = await asyncio.open_unix_connection(path, limit=MAX_HEAD_BYTES)
        else:
            url = urlsplit(self._endpoint)
            host, port = url.hostname or "", url.port or 80
            reader, writer = await asyncio.open_connection(host, port, limit=MAX_HEAD_BYTES)
        return _Connection(reader, writer)

    def _request(self, method: str, path: str, body: bytes | None) -> bytes:
        if not path.startswith("/") or any(c in path for c in " \r\n"):
            raise WireError(f"not a request path: {path[:80]!r}")  # callers quote their paths
        head = f"{method} {path} HTTP/1.1\r\nhost: ship\r\n{self._head}"
        if body is not None:
            head += f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
        return (head + "\r\n").encode("latin-1") + (body or b"")


async def _read_answer(reader: asyncio.StreamReader, cap: int) -> tuple[Answer, bool]:
    """The answer, and whether its connection may carry another request."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError as exc:
        raise WireError("Ship's answer head is too large") from exc
    except asyncio.IncompleteReadError as exc:
        raise WireError("Ship closed the connection without answering") from exc
    status, headers = _parse_head(head)
    keep = headers.get("connection", "").lower() != "close"
    try:
        if "content-length" in headers:
            body = await _fixed(reader, headers["content-length"], cap)
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = await _chunked(reader, cap)
        else:
            body, keep = await _until_eof(reader, cap), False
    except asyncio.IncompleteReadError as exc:
        raise WireError("Ship cut its answer short") from exc
    return Answer(status, headers, body), keep


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise WireError(f"Ship answered something that is not HTTP: {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


async def _fixed(reader: asyncio.StreamReader, length: str, cap: int) -> bytes:
    if not length.isdigit():
        raise WireError(f"Ship sent a bad content-length: {length[:40]!r}")
    if int(length) > cap:
        raise AnswerTooLarge(f"Ship's answer exceeded {cap} bytes")
    return await reader.readexactly(int(length))


async def _chunked(reader: asyncio.StreamReader, cap: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        line = await reader.readuntil(b"\r\n")
        digits = line.split(b";", 1)[0].strip()
        if not _HEX.fullmatch(digits):
            raise WireError(f"Ship sent a bad chunk size: {digits[:20]!r}")
        length = int(digits, 16)
        size += length
        if size > cap:
            raise AnswerTooLarge(f"Ship's answer exceeded {cap} bytes")
        if length == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass  # trailers, which nothing here uses
            return b"".join(chunks)
        chunks.append(await reader.readexactly(length))
        if await reader.readexactly(2) != b"\r\n":
            raise WireError("Ship sent a chunk longer than it said")


async def _until_eof(reader: asyncio.StreamReader, cap: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await reader.read(64 * 1024):
        size += len(chunk)
        if size > cap:
            raise AnswerTooLarge(f"Ship's answer exceeded {cap} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
