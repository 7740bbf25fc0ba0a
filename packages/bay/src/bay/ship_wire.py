"""Bay's HTTP/1.1 client for Ship's one-answer calls (an execution, a file, a health check).

Every warm execution crosses Bay -> Ship once; through httpx that hop cost Bay about two
milliseconds of CPU (a fifth of its work per call). These calls need little of httpx: one
request with a small body, one answer, on a kept-alive connection over a Unix socket or TCP.
The bytes are read and written by h11 (the parser under httpcore); this module only moves
them. Streams (events, downloads, uploads) stay on httpx.
"""

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import h11

from shipyard_protocol.ship import KEEP_ALIVE_S

MAX_HEAD_BYTES = 64 * 1024
READ_BYTES = 64 * 1024
IDLE_KEPT = 8
# Ship closes a connection idle for KEEP_ALIVE_S; one idle for nearly that long races its close.
IDLE_EXPIRY_S = KEEP_ALIVE_S - 1.0
# A connection is made in well under a second or not at all (a gone container's address).
CONNECT_TIMEOUT_S = 5.0


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
    http: h11.Connection = field(
        default_factory=lambda: h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
    )

    def reusable(self) -> bool:
        fresh = time.monotonic() - self.idle_since < IDLE_EXPIRY_S
        return fresh and not self.reader.at_eof() and not self.writer.is_closing()

    def close(self) -> None:
        self.writer.close()


class ShipWire:
    """Kept-alive connections to one Ship endpoint (`unix:/path` or `http://host:port`)."""

    def __init__(self, endpoint: str, headers: Mapping[str, str] | None = None) -> None:
        self._endpoint = endpoint
        self._headers = list((headers or {}).items())
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
                    answer, keep = await _exchange(connection, request, body, cap)
                except BaseException:
                    connection.close()
                    raise
        except (WireError, TimeoutError):
            raise
        except h11.ProtocolError as exc:
            raise WireError(f"Ship answered something that is not HTTP: {exc}") from exc
        except (OSError, EOFError, ValueError) as exc:
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

    def _request(self, method: str, path: str, body: bytes | None) -> h11.Request:
        if not path.startswith("/") or any(c in path for c in " \r\n"):
            raise WireError(f"not a request path: {path[:80]!r}")  # callers quote their paths
        headers = [("host", "ship"), *self._headers]
        if body is not None:
            headers += [("content-type", "application/json"), ("content-length", str(len(body)))]
        return h11.Request(method=method, target=path, headers=headers)


async def _exchange(
    connection: _Connection, request: h11.Request, body: bytes | None, cap: int
) -> tuple[Answer, bool]:
    """Send the request, read its answer; and whether the connection may carry another."""
    http = connection.http
    data = http.send(request) or b""
    if body:
        data += http.send(h11.Data(data=body)) or b""
    connection.writer.write(data + (http.send(h11.EndOfMessage()) or b""))
    response = await _next(connection, "Ship closed the connection without answering")
    assert isinstance(response, h11.Response)  # noqa: S101 - the only other events end a body
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in response.headers}
    length = headers.get("content-length", "0")
    if length.isdigit() and int(length) > cap:
        raise AnswerTooLarge(f"Ship's answer exceeded {cap} bytes")
    chunks: list[bytes] = []
    size = 0
    while not isinstance(
        event := await _next(connection, "Ship cut its answer short"), h11.EndOfMessage
    ):
        assert isinstance(event, h11.Data)  # noqa: S101 - a body is data, then its end
        size += len(event.data)
        if size > cap:
            raise AnswerTooLarge(f"Ship's answer exceeded {cap} bytes")
        chunks.append(bytes(event.data))
    keep = http.our_state is h11.DONE and http.their_state is h11.DONE
    if keep:
        http.start_next_cycle()
    return Answer(response.status_code, headers, b"".join(chunks)), keep


async def _next(connection: _Connection, cut: str) -> h11.Event:
    """The next event of the answer (informational answers skipped); `cut` names a close
    before it."""
    http = connection.http
    while True:
        try:
            event = http.next_event()
        except h11.RemoteProtocolError as exc:
            if http.their_state is h11.ERROR and connection.reader.at_eof():
                raise WireError(cut) from exc
            raise
        if event is h11.NEED_DATA:
            http.receive_data(await connection.reader.read(READ_BYTES))
        elif isinstance(event, h11.ConnectionClosed):
            raise WireError(cut)
        elif event is h11.PAUSED:
            raise WireError("Ship answered beyond the end of its answer")
        elif isinstance(event, h11.Event) and not isinstance(event, h11.InformationalResponse):
            return event
