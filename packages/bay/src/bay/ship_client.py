"""Typed httpx client for Ship, speaking shipyard_protocol.ship over a UDS or TCP."""

import functools
import json
import ssl
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator, Mapping
from contextlib import contextmanager
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError
from websockets.asyncio.client import ClientConnection as ClientConnection
from websockets.asyncio.client import connect, unix_connect
from websockets.exceptions import InvalidStatus, WebSocketException
from websockets.typing import Subprotocol

from bay.ship_wire import AnswerTooLarge, RefusedError, ShipWire, WireError
from shipyard_protocol.errors import ErrorBody, ErrorCode
from shipyard_protocol.ship import (
    Activity,
    BrowserBatch,
    BrowserBatchRun,
    BrowserClosed,
    BrowserRun,
    BrowserStep,
    DirectoryListing,
    DisplayEvent,
    EndEvent,
    ErrorEvent,
    ExecEvent,
    ExecutionState,
    FileText,
    FileWritten,
    KernelState,
    OutputEvent,
    ProcessInfo,
    ProcessList,
    ProcessLogs,
    ProcessSignal,
    ProcessStart,
    PythonOutcome,
    PythonRun,
    ResultEvent,
    ShellOutcome,
    ShellRun,
    ShipHealth,
    ShipLogs,
)

Model = TypeVar("Model", bound=BaseModel)
ExecEventModel = OutputEvent | DisplayEvent | ResultEvent | ErrorEvent | EndEvent
_EVENTS: TypeAdapter[ExecEventModel] = TypeAdapter(ExecEvent)
NDJSON = "application/x-ndjson"

# Bay waits this much longer than the exec deadline Ship enforces, so Ship always answers first.
EXEC_GRACE_S = 15.0
FILE_TIMEOUT_S = 60.0
# JSON answers hold at most a few capped output buffers and one text file; bigger is hostile.
MAX_ANSWER_BYTES = 64 * 1024 * 1024
MAX_EVENT_LINE_BYTES = 8 * 1024 * 1024
WS_FRAME_BYTES = 1024 * 1024
CALL_LIMITS = httpx.Limits(max_connections=32, max_keepalive_connections=8)
PORT_CONNECTIONS = 256
PORT_FRAME_BYTES = 16 * 1024 * 1024  # Ship's own cap on a relayed message
# Ship marks its own refusals so, behind a port relay, they are told from the server's answers.
SHIP_ERROR_HEADER = "x-ship-error"


class ShipCallError(Exception):
    """Ship answered an error body, or could not be reached."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.details = details or {}


class ShipUnreachableError(ShipCallError):
    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.SHIP_ERROR, message)


class ShipRefusedError(ShipUnreachableError):
    """No connection to Ship was made: the request provably never reached it."""


class ShipTimedOutError(ShipCallError):
    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.TIMEOUT, message)


class ShipDownload:
    """An open streamed download; iterate `chunks()` then `aclose()`."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def size(self) -> int | None:
        length = self._response.headers.get("content-length")
        return int(length) if length else None

    async def chunks(self) -> AsyncIterator[bytes]:
        async for chunk in self._response.aiter_bytes(1024 * 1024):
            yield chunk

    async def aclose(self) -> None:
        await self._response.aclose()


class ShipStream:
    """An open NDJSON event stream from Ship; iterate `events()` then `aclose()`."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    async def events(self) -> AsyncIterator[ExecEventModel]:
        """Parsed events; a cut connection or a malformed line raises ShipCallError."""
        with _mapped_transport_errors():
            async for line in _lines(self._response, MAX_EVENT_LINE_BYTES):
                yield _event(line)

    async def aclose(self) -> None:
        await self._response.aclose()


TokenFor = Callable[[str], str | None]
OnError = Callable[["ShipCallError"], None]


class ShipClient:
    """One pooled httpx client per Ship endpoint (`unix:/path` or `http://host:port`).

    `token_for(endpoint)` gives the bearer token a Ship on TCP wants (None: no token). An
    endpoint's user part (`http://name@host:port`) is the driver's, and is never sent.
    `on_error` hears of each call that failed for want of Ship (unreachable, timed out, or
    Ship's own 5xx), not of Ship's answers about the user's request.
    """

    def __init__(
        self,
        transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
        token_for: TokenFor | None = None,
        on_error: OnError | None = None,
    ) -> None:
        self._transports = transports if transports is not None else {}
        self._token_for = token_for
        self._on_error = on_error
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._wires: dict[str, ShipWire] = {}
        self._suspects: set[str] = set()
        self._port_clients: dict[str, httpx.AsyncClient] = {}

    def _client(self, endpoint: str) -> httpx.AsyncClient:
        client = self._clients.get(endpoint)
        if client is None:
            headers = self._auth(endpoint)
            client = _make_client(endpoint, self._transports, lambda: self._tls, headers)
            self._clients[endpoint] = client
        return client

    def _auth(self, endpoint: str) -> dict[str, str]:
        token = self._token_for(endpoint) if self._token_for is not None else None
        return {"Authorization": f"Bearer {token}"} if token else {}

    @functools.cached_property
    def _tls(self) -> ssl.SSLContext:
        """One TLS context for every client: httpx builds one per client otherwise, which
        costs tens of milliseconds on each session's first call."""
        return ssl.create_default_context()

    def _wire(self, endpoint: str) -> ShipWire | None:
        """The lean client for one-answer calls; None where a test put its own transport."""
        if endpoint in self._transports:
            return None
        wire = self._wires.get(endpoint)
        if wire is None:
            wire = self._wires[endpoint] = ShipWire(endpoint, self._auth(endpoint))
        return wire

    async def forget(self, endpoint: str) -> None:
        """Close the pooled clients of an endpoint whose session ended."""
        self._suspects.discard(endpoint)
        wire = self._wires.pop(endpoint, None)
        if wire is not None:
            wire.close()
        for clients in (self._clients, self._port_clients):
            client = clients.pop(endpoint, None)
            if client is not None:
                await client.aclose()

    async def aclose(self) -> None:
        for endpoint in {*self._clients, *self._wires, *self._port_clients}:
            await self.forget(endpoint)

    async def __aenter__(self) -> "ShipClient":
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def health(self, endpoint: str, timeout: float = 2.0) -> ShipHealth:
        return await self._call(endpoint, "GET", "/health", ShipHealth, timeout=timeout)

    async def logs(self, endpoint: str, timeout: float = 5.0) -> ShipLogs:
        """Ship's log lines since the last call (Ship forgets them once they are read)."""
        return await self._call(endpoint, "POST", "/logs/drain", ShipLogs, timeout=timeout)

    async def python(self, endpoint: str, run: PythonRun) -> PythonOutcome:
        body = run.model_dump()
        timeout = run.timeout + EXEC_GRACE_S
        return await self._call(
            endpoint, "POST", "/python/exec", PythonOutcome, json=body, timeout=timeout
        )

    async def shell(self, endpoint: str, run: ShellRun) -> ShellOutcome:
        body = run.model_dump()
        timeout = run.timeout + EXEC_GRACE_S
        return await self._call(
            endpoint, "POST", "/shell/exec", ShellOutcome, json=body, timeout=timeout
        )

    async def browser(self, endpoint: str, run: BrowserRun) -> BrowserStep:
        timeout = run.timeout + EXEC_GRACE_S
        return await self._call(
            endpoint, "POST", "/browser/exec", BrowserStep, json=run.model_dump(), timeout=timeout
        )

    async def browser_batch(self, endpoint: str, run: BrowserBatchRun) -> BrowserBatch:
        timeout = run.timeout + EXEC_GRACE_S
        body = run.model_dump()
        return await self._call(
            endpoint, "POST", "/browser/exec_batch", BrowserBatch, json=body, timeout=timeout
        )

    async def browser_close(self, endpoint: str, timeout: float) -> BrowserClosed:
        return await self._call(endpoint, "POST", "/browser/close", BrowserClosed, timeout=timeout)

    async def read_file(self, endpoint: str, path: str) -> FileText:
        return await self._call(endpoint, "GET", "/files", FileText, params={"path": path})

    async def write_file(self, endpoint: str, path: str, content: str) -> FileWritten:
        body = FileText(path=path, content=content).model_dump()
        return await self._call(endpoint, "PUT", "/files", FileWritten, json=body)

    async def delete(self, endpoint: str, path: str) -> FileWritten:
        return await self._call(endpoint, "DELETE", "/files", FileWritten, params={"path": path})

    async def list_dir(self, endpoint: str, path: str) -> DirectoryListing:
        params = {"path": path}
        return await self._call(endpoint, "GET", "/directories", DirectoryListing, params=params)

    async def upload(self, endpoint: str, path: str, chunks: AsyncIterable[bytes]) -> FileWritten:
        return await self._call(
            endpoint, "PUT", "/upload", FileWritten, params={"path": path}, content=chunks
        )

    async def download(self, endpoint: str, path: str) -> ShipDownload:
        response = await self._open(endpoint, "GET", "/download", params={"path": path})
        return ShipDownload(response)

    async def stream(self, endpoint: str, run: PythonRun | ShellRun) -> ShipStream:
        """Start an execution and follow its events; closing the stream never stops it."""
        path = "/python/exec" if isinstance(run, PythonRun) else "/shell/exec"
        headers = {"Accept": NDJSON}
        response = await self._open(endpoint, "POST", path, json=run.model_dump(), headers=headers)
        return ShipStream(response)

    async def events(self, endpoint: str, execution_id: str, after: int) -> ShipStream:
        """Follow an execution's events with seq > after (resume after a dropped client)."""
        path = f"/executions/{execution_id}/events"
        response = await self._open(endpoint, "GET", path, params={"after": after})
        return ShipStream(response)

    async def execution(self, endpoint: str, execution_id: str, wait: float = 0) -> ExecutionState:
        return await self._call(
            endpoint,
            "GET",
            f"/executions/{execution_id}",
            ExecutionState,
            params={"wait": wait},
            timeout=wait + EXEC_GRACE_S,
        )

    async def interrupt(self, endpoint: str) -> KernelState:
        return await self._call(endpoint, "POST", "/python/interrupt", KernelState)

    async def restart(self, endpoint: str) -> KernelState:
        return await self._call(endpoint, "POST", "/python/restart", KernelState)

    async def activity(self, endpoint: str) -> Activity:
        return await self._call(endpoint, "GET", "/activity", Activity, timeout=5)

    async def start_process(self, endpoint: str, start: ProcessStart) -> ProcessInfo:
        return await self._call(
            endpoint, "POST", "/processes", ProcessInfo, json=start.model_dump()
        )

    async def processes(self, endpoint: str) -> ProcessList:
        return await self._call(endpoint, "GET", "/processes", ProcessList)

    async def process(self, endpoint: str, process_id: str) -> ProcessInfo:
        return await self._call(endpoint, "GET", f"/processes/{process_id}", ProcessInfo)

    async def process_logs(
        self, endpoint: str, process_id: str, stream: str, offset: int, limit: int
    ) -> ProcessLogs:
        params = {"stream": stream, "offset": offset, "limit": limit}
        path = f"/processes/{process_id}/logs"
        return await self._call(endpoint, "GET", path, ProcessLogs, params=params)

    async def wait_process(self, endpoint: str, process_id: str, timeout: float) -> ProcessInfo:
        path = f"/processes/{process_id}/wait"
        return await self._call(
            endpoint, "POST", path, ProcessInfo, params={"timeout": timeout}, timeout=timeout + 5
        )

    async def signal_process(self, endpoint: str, process_id: str, signal: str) -> ProcessInfo:
        body = ProcessSignal(signal=signal).model_dump()
        path = f"/processes/{process_id}/signal"
        return await self._call(endpoint, "POST", path, ProcessInfo, json=body)

    async def kill_process(self, endpoint: str, process_id: str) -> ProcessInfo:
        return await self._call(endpoint, "DELETE", f"/processes/{process_id}", ProcessInfo)

    async def terminal(self, endpoint: str, cols: int, rows: int) -> ClientConnection:
        """Open Ship's terminal WebSocket (a PTY running bash as the sandbox user)."""
        return await self._websocket(endpoint, f"/terminal?cols={cols}&rows={rows}", "terminal")

    async def port_request(
        self,
        endpoint: str,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: AsyncIterable[bytes] | None,
    ) -> httpx.Response:
        """Relay one request to a sandbox port (`target` is `/ports/{port}/...`), bodies
        streamed; the answer comes back unread. Ship's own refusal raises ShipCallError,
        the user's server's answers (errors too) return."""
        client = self._port_client(endpoint)
        timeout = httpx.Timeout(FILE_TIMEOUT_S, read=None)
        request = client.build_request(
            method, target, headers=headers, content=body, timeout=timeout
        )
        with self._reported(endpoint), _mapped_transport_errors():
            response = await client.send(request, stream=True)
        if SHIP_ERROR_HEADER in response.headers:
            raise _error_from(response.status_code, await _capped_body(response))
        return response

    async def port_websocket(
        self, endpoint: str, target: str, subprotocols: list[str]
    ) -> ClientConnection:
        """Open a WebSocket to a sandbox port through Ship (`target` is `/ports/{port}/...`)."""
        return await self._websocket(endpoint, target, "port", subprotocols, port=True)

    async def tunnel(self, endpoint: str, port: int) -> ClientConnection:
        """A raw TCP connection to a sandbox port, its bytes carried in binary messages."""
        return await self._websocket(endpoint, f"/tunnels/{port}", "tunnel", port=True)

    async def _websocket(
        self,
        endpoint: str,
        target: str,
        what: str,
        subprotocols: list[str] | None = None,
        port: bool = False,
    ) -> ClientConnection:
        # A port's messages are the user's (as large as Ship relays) and not worth deflating
        # twice on loopback; the terminal's are small keystrokes and screens.
        options: dict[str, Any] = {
            "max_size": PORT_FRAME_BYTES if port else WS_FRAME_BYTES,
            "subprotocols": [Subprotocol(p) for p in subprotocols] if subprotocols else None,
            "compression": None if port else "deflate",
        }
        with self._reported(endpoint):
            return await self._connected(endpoint, target, what, options)

    async def _connected(
        self, endpoint: str, target: str, what: str, options: dict[str, Any]
    ) -> ClientConnection:
        try:
            if endpoint.startswith("unix:"):
                path = endpoint.removeprefix("unix:")
                return await unix_connect(path, f"ws://ship{target}", **options)
            if endpoint.startswith("http"):
                url = _base_url(endpoint).replace("http", "ws", 1).rstrip("/") + target
                headers = self._auth(endpoint)
                return await connect(url, additional_headers=headers, **options)
        except InvalidStatus as exc:
            raise _error_from(exc.response.status_code, bytes(exc.response.body or b"")) from exc
        except OSError as exc:  # no connection was made
            raise ShipRefusedError(f"Ship's {what} could not be reached: {exc!r}") from exc
        except WebSocketException as exc:
            raise ShipUnreachableError(f"Ship's {what} could not be reached: {exc!r}") from exc
        raise ShipUnreachableError(f"this session's driver offers no {what} ({endpoint})")

    def _port_client(self, endpoint: str) -> httpx.AsyncClient:
        """A pool of its own: a page's requests, or answers held open, must not take the
        connections Bay's own calls to Ship need."""
        client = self._port_clients.get(endpoint)
        if client is None:
            headers = self._auth(endpoint)
            limits = httpx.Limits(max_connections=PORT_CONNECTIONS, max_keepalive_connections=16)
            client = _make_client(endpoint, self._transports, lambda: self._tls, headers, limits)
            self._port_clients[endpoint] = client
        return client

    async def _open(self, endpoint: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send and return the response unread (streaming), or raise Ship's error."""
        client = self._client(endpoint)
        timeout = httpx.Timeout(FILE_TIMEOUT_S, read=None)
        request = client.build_request(method, path, timeout=timeout, **kwargs)
        with self._reported(endpoint):
            with _mapped_transport_errors():
                response = await client.send(request, stream=True)
            if response.status_code >= 400:
                body = await _capped_body(response)
                raise _error_from(response.status_code, body)
        return response

    @contextmanager
    def _reported(self, endpoint: str) -> Iterator[None]:
        try:
            yield
        except ShipCallError as exc:
            if isinstance(exc, ShipUnreachableError):
                self._suspects.add(endpoint)
            if self._on_error is not None and (exc.status is None or exc.status >= 500):
                self._on_error(exc)
            raise

    def suspect(self, endpoint: str) -> bool:
        """Whether a call to the endpoint found Ship unreachable since the last `cleared`:
        Bay trusts a running session until then, and checks its instance after."""
        return endpoint in self._suspects

    def cleared(self, endpoint: str) -> None:
        self._suspects.discard(endpoint)

    async def _call(
        self,
        endpoint: str,
        method: str,
        path: str,
        model: type[Model],
        timeout: float = FILE_TIMEOUT_S,
        **kwargs: Any,
    ) -> Model:
        wire = self._wire(endpoint)
        with self._reported(endpoint):
            if wire is not None and "content" not in kwargs:
                status, body = await _wire_call(wire, method, path, timeout, **kwargs)
            else:
                status, body = await self._httpx_call(endpoint, method, path, timeout, **kwargs)
            if status >= 400:
                raise _error_from(status, body)
            try:
                return model.model_validate_json(body)
            except ValidationError as exc:
                raise ShipUnreachableError(f"Ship answered an unexpected body: {exc}") from exc

    async def _httpx_call(
        self, endpoint: str, method: str, path: str, timeout: float, **kwargs: Any
    ) -> tuple[int, bytes]:
        """A call whose body streams (an upload), or through a test's transport."""
        client = self._client(endpoint)
        request = client.build_request(method, path, timeout=timeout, **kwargs)
        with _mapped_transport_errors():
            response = await client.send(request, stream=True)
            return response.status_code, await _capped_body(response)


async def _wire_call(
    wire: ShipWire,
    method: str,
    path: str,
    timeout: float,
    json: object = None,
    params: Mapping[str, object] | None = None,
) -> tuple[int, bytes]:
    target = quote(path) + (f"?{urlencode(params)}" if params else "")
    body = _json_bytes(json) if json is not None else None
    try:
        answer = await wire.call(method, target, body, timeout, MAX_ANSWER_BYTES)
    except TimeoutError as exc:
        raise ShipTimedOutError(f"Ship did not answer in {timeout:g} s") from exc
    except AnswerTooLarge as exc:
        raise ShipUnreachableError(str(exc)) from exc
    except RefusedError as exc:
        raise ShipRefusedError(f"Ship could not be reached: {exc}") from exc
    except WireError as exc:
        raise ShipUnreachableError(f"Ship could not be reached: {exc}") from exc
    return answer.status, answer.body


def _json_bytes(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


async def _lines(response: httpx.Response, cap: int) -> AsyncIterator[bytes]:
    """NDJSON lines, never buffering more than `cap` bytes of one line."""
    pending = b""
    async for chunk in response.aiter_raw():
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line.strip():
                yield line
        if len(pending) > cap:
            raise ShipUnreachableError("Ship sent an oversized event")
    if pending.strip():
        yield pending


def _event(line: bytes) -> ExecEventModel:
    try:
        return _EVENTS.validate_json(line)
    except ValidationError as exc:
        raise ShipUnreachableError(f"Ship sent an unexpected event: {exc}") from exc


def _make_client(
    endpoint: str,
    transports: Mapping[str, httpx.AsyncBaseTransport],
    tls: Callable[[], ssl.SSLContext],
    headers: Mapping[str, str],
    limits: httpx.Limits = CALL_LIMITS,
) -> httpx.AsyncClient:
    if endpoint in transports:
        transport: httpx.AsyncBaseTransport = transports[endpoint]
        return httpx.AsyncClient(transport=transport, base_url="http://ship", headers=headers)
    if endpoint.startswith("unix:"):
        uds = endpoint.removeprefix("unix:")
        transport = httpx.AsyncHTTPTransport(uds=uds, limits=limits, verify=tls())
        return httpx.AsyncClient(transport=transport, base_url="http://ship", headers=headers)
    transport = httpx.AsyncHTTPTransport(limits=limits, verify=tls())
    return httpx.AsyncClient(transport=transport, base_url=_base_url(endpoint), headers=headers)


def _base_url(endpoint: str) -> str:
    """The endpoint without its user part, which httpx and websockets would send as Basic auth."""
    return str(httpx.URL(endpoint).copy_with(username=None, password=None))


@contextmanager
def _mapped_transport_errors() -> Iterator[None]:
    try:
        yield
    except httpx.ConnectTimeout as exc:
        raise ShipRefusedError(f"Ship could not be reached: {exc!r}") from exc
    except httpx.TimeoutException as exc:
        raise ShipTimedOutError(f"Ship did not answer in time: {exc!r}") from exc
    except httpx.ConnectError as exc:
        raise ShipRefusedError(f"Ship could not be reached: {exc!r}") from exc
    except httpx.HTTPError as exc:
        raise ShipUnreachableError(f"Ship could not be reached: {exc!r}") from exc


async def _capped_body(response: httpx.Response) -> bytes:
    """Read a JSON answer, refusing one larger than any honest Ship would send.

    Ship caps what it returns, but the sandbox can replace Ship: Bay must not trust it.
    """
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_raw():
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise ShipUnreachableError(f"Ship's answer exceeded {MAX_ANSWER_BYTES} bytes")
            chunks.append(chunk)
    finally:
        await response.aclose()
    return b"".join(chunks)


def _error_from(status: int, body: bytes) -> ShipCallError:
    try:
        parsed = ErrorBody.model_validate_json(body)
    except ValidationError:
        text = body[:500].decode(errors="replace")
        return ShipCallError(ErrorCode.SHIP_ERROR, f"Ship answered {status}: {text}")
    error = parsed.error
    return ShipCallError(error.code, error.message, status, error.details)
