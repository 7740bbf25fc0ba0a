"""Request machinery shared by both clients: `Call`, retry policy, answers to models or errors."""

import functools
import logging
import os
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any, BinaryIO, Generic, TypeVar

import httpx
import pydantic

from shipyard.errors import BayUnreachableError, InvalidArgumentError, error_class

T = TypeVar("T")
M = TypeVar("M", bound=pydantic.BaseModel)

log = logging.getLogger("shipyard")

DEFAULT_ENDPOINT = "http://127.0.0.1:8114"
IDEMPOTENT_METHODS = frozenset({"GET", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class Call(Generic[T]):
    """One HTTP call relative to the base URL, and how to read its answer."""

    method: str
    url: str
    parse: Callable[[httpx.Response], T]
    json: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] | None = None
    upload: BinaryIO | None = None
    read_timeout: float | None = None
    waits_for: str = "Bay's answer"

    @property
    def retryable(self) -> bool:
        """Safe to send twice: idempotent verbs, keyed POSTs and uploads that can rewind."""
        if self.upload is not None:
            return self.upload.seekable()
        return self.method in IDEMPOTENT_METHODS or "Idempotency-Key" in self.headers

    def build(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        """The request, on the client's base URL and headers (a rewindable upload restarts)."""
        files = None if self.upload is None else {"file": ("upload", self.upload)}
        return http.build_request(
            self.method,
            self.url,
            params=self.params or None,
            json=self.json,
            data=self.form,
            files=files,
            headers=self.headers or None,
            timeout=self._timeout(http.timeout),
        )

    def _timeout(self, default: httpx.Timeout) -> httpx.Timeout:
        if self.read_timeout is None or (default.read or 0) >= self.read_timeout:
            return default
        return httpx.Timeout(
            connect=default.connect, read=self.read_timeout, write=default.write, pool=default.pool
        )


@dataclass(frozen=True)
class Retries:
    """Retry policy for safe calls: transport errors, 429, 502, 503 and 504.

    A call is retried up to `attempts` more times, waiting `backoff * 2**n` seconds capped at
    `cap`. Unsafe calls (a POST exec) are never retried. The same numbers bound how often in a
    row a cut event stream is resumed after its last event.
    """

    attempts: int = 3
    backoff: float = 0.2
    cap: float = 1.5

    def again(self, call: Call[Any], attempt: int, status: int | None) -> bool:
        """Whether to resend after try number `attempt` (from 0); `status` None: no answer."""
        if attempt >= self.attempts or not call.retryable:
            return False
        return status is None or status in RETRY_STATUSES

    def delay(self, attempt: int) -> float:
        """Seconds to wait after try number `attempt` failed."""
        return float(min(self.backoff * 2**attempt, self.cap))


def log_sent(call: Call[Any]) -> float:
    """Debug-log what the call waits for; answers when it was sent."""
    log.debug("%s %s: waiting for %s", call.method, call.url, call.waits_for)
    return time.monotonic()


def log_answered(call: Call[Any], status: int, sent: float) -> None:
    """Debug-log the status and how long the wait took."""
    took = time.monotonic() - sent
    log.debug("%s %s: answered %d after %.2f s", call.method, call.url, status, took)


def log_retry(call: Call[Any], cause: object, attempt: int, policy: Retries) -> float:
    """Debug-log a retry and answer how long to wait before it."""
    delay = policy.delay(attempt)
    retry = f"retry {attempt + 1} of {policy.attempts}"
    log.debug("%s %s: %s; %s in %.2f s", call.method, call.url, cause, retry, delay)
    return delay


def checked(model_class: type[M], **fields: Any) -> M:
    """A request body, or an `InvalidArgumentError` naming the argument and its limit (not
    pydantic's own error: the call never left this process)."""
    try:
        return model_class(**fields)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        raise InvalidArgumentError(f"invalid argument: {problems}", 0) from None


def client_options(
    endpoint: str | None,
    api_key: str | None,
    timeout: float,
    transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None,
) -> dict[str, Any]:
    """`httpx` client arguments, with `SHIPYARD_ENDPOINT` and `SHIPYARD_API_KEY` fallbacks
    (only for None: an empty `api_key` means no key, never the environment's), and the
    `transport` given, if any (httpx then needs no TLS context of ours)."""
    key = os.environ.get("SHIPYARD_API_KEY") if api_key is None else api_key
    headers = {"User-Agent": f"shipyard-sdk/{version('shipyard-sdk')}"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    base = endpoint or os.environ.get("SHIPYARD_ENDPOINT") or DEFAULT_ENDPOINT
    options = {"base_url": base, "headers": headers, "timeout": timeout, "transport": transport}
    if transport is None:
        options["verify"] = _tls(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    return options


@functools.cache
def _tls(cafile: str | None, capath: str | None) -> ssl.SSLContext:
    """The TLS context httpx would build for a client, built once per process and CA setting
    (the variables httpx reads): building one loads every CA certificate, about 10 ms of CPU
    for each client made, even one that only speaks plain HTTP to a local Bay. A CA file
    changed in place is read again by the next process."""
    return httpx.create_ssl_context(trust_env=True)


def raise_for_error(response: httpx.Response) -> None:
    """Raise the SDK exception of an error answer; JSON or not, every error maps to a class."""
    if not response.is_error:
        return
    status = response.status_code
    code, message, details, request_id = _error_fields(response)
    if status == 401:
        sent = "a key was" if "authorization" in response.request.headers else "no key was"
        message += (
            " (the key goes in `Authorization: Bearer <key>`: set SHIPYARD_API_KEY or pass "
            f"api_key=; {sent} sent)"
        )
    raise error_class(code, status)(message, status, details, request_id)


def unreachable(error: httpx.ConnectError, base_url: httpx.URL) -> "BayUnreachableError":
    """What a refused or failed connection says: the URL tried and how to name another."""
    message = (
        f"cannot reach Bay at {base_url}: {error}. Is it running there? "
        "Set SHIPYARD_ENDPOINT (or endpoint=) to its URL."
    )
    return BayUnreachableError(message, request=error.request)


def content_length(response: httpx.Response) -> int | None:
    """The announced body size, when the server sent one."""
    value = response.headers.get("content-length", "")
    return int(value) if value.isdigit() else None


def _error_fields(response: httpx.Response) -> tuple[Any, str, dict[str, Any], str | None]:
    """Code, message, details and request id of Bay's error body, or of anything else."""
    request_id = response.headers.get("x-request-id")
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        message = str(error.get("message", response.reason_phrase))
        details = error.get("details") or {}
        return error.get("code"), message, details, error.get("request_id", request_id)
    if isinstance(body, dict) and "detail" in body:  # FastAPI's own 422 and HTTPException bodies
        return None, _detail_text(body["detail"]), {}, request_id
    return None, response.text.strip()[:500] or response.reason_phrase, {}, request_id


def _detail_text(detail: Any) -> str:
    if not isinstance(detail, list):
        return str(detail)
    return "; ".join(
        f"{'.'.join(map(str, item.get('loc', [])))}: {item.get('msg')}" for item in detail
    )


def model(cls: type[M]) -> Callable[[httpx.Response], M]:
    """A parser: the model of a success, or the SDK exception of an error."""

    def parse(response: httpx.Response) -> M:
        raise_for_error(response)
        return cls.model_validate_json(response.content)

    return parse


def nothing(response: httpx.Response) -> None:
    """A parser for answers whose body carries nothing (`204`, `{"status": "ok"}`)."""
    raise_for_error(response)
