# generated from _async.py by scripts/unasync.py; do not edit
"""`Client` and its account-wide resources: they only send what the builder makes."""

import builtins
import time
from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from shipyard import _endpoints as req
from shipyard import _requests
from shipyard._events import Tracker
from shipyard._sync_sandbox import Sandbox
from shipyard._sync_skills import Skills
from shipyard._sync_stream import ExecStream
from shipyard._transfer import Progress, Receiver, Target, open_target
from shipyard.errors import ShipyardError
from shipyard_protocol import api
from shipyard_protocol.ship import ExecEvent

T = TypeVar("T")


class Client:
    """Synchronous client for Bay; use it as `with Client() as client:`.

    `endpoint` and `api_key` fall back to `SHIPYARD_ENDPOINT` and `SHIPYARD_API_KEY`. Safe
    calls are retried per `retries`; `transport` is passed to `httpx.Client`. Both
    clients share one request builder and differ only in how they send.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 120.0,
        retries: _requests.Retries | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        options = _requests.client_options(endpoint, api_key, timeout, transport)
        self._http = httpx.Client(**options)
        self._retries = _requests.Retries() if retries is None else retries
        self.sandboxes = Sandboxes(self)
        self.cargos = Cargos(self)
        self.skills = Skills(self)
        self.profiles = Profiles(self)
        self.admin = Admin(self)

    def health(self) -> api.Health:
        """Bay's `GET /health`: status and version, no key needed."""
        return self._call(req.health())

    def close(self) -> None:
        """Close the connection pool; `with` does this for you."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _call(self, call: _requests.Call[T]) -> T:
        response = self._respond(call)
        try:
            response.read()
        finally:
            response.close()
        return call.parse(response)

    def _download(
        self, call: _requests.Call[None], target: Target, progress: Progress | None
    ) -> int:
        with self._opened(call) as response, open_target(target) as stream:
            receiver = Receiver(stream, _requests.content_length(response), progress)
            for chunk in response.iter_bytes():
                receiver.write(chunk)
        return receiver.done

    def _stream(
        self,
        call: _requests.Call[None],
        sandbox_id: str,
        execution_id: str | None = None,
        after: int = 0,
    ) -> ExecStream:
        tracker = Tracker(sandbox_id, self._retries, execution_id, after)
        return ExecStream(self._follow(call, tracker), tracker)

    def _follow(
        self, call: _requests.Call[None], tracker: Tracker
    ) -> Generator[ExecEvent, None, None]:
        while True:
            try:
                with self._opened(call) as response:
                    for line in response.iter_lines():
                        event = tracker.feed(line)
                        if event is not None:
                            yield event
                        if tracker.end is not None:
                            return
            except (httpx.TransportError, ShipyardError) as exc:
                call = tracker.resume(exc)
            else:
                call = tracker.resume(None)
            time.sleep(tracker.delay())

    @contextmanager
    def _opened(self, call: _requests.Call[Any]) -> Iterator[httpx.Response]:
        """A streamed answer, closed on exit; an error answer raises before the block."""
        response = self._respond(call)
        try:
            if response.is_error:
                response.read()
                call.parse(response)
            yield response
        finally:
            response.close()

    def _respond(self, call: _requests.Call[Any]) -> httpx.Response:
        attempt = 0
        while True:
            sent = _requests.log_sent(call)
            try:
                response = self._http.send(call.build(self._http), stream=True)
            except httpx.TransportError as exc:
                if not self._retries.again(call, attempt, None):
                    if isinstance(exc, httpx.ConnectError):
                        raise _requests.unreachable(exc, self._http.base_url) from None
                    raise
                cause: object = repr(exc)
            else:
                _requests.log_answered(call, response.status_code, sent)
                if not self._retries.again(call, attempt, response.status_code):
                    return response
                response.close()
                cause = response.status_code
            time.sleep(_requests.log_retry(call, cause, attempt, self._retries))
            attempt += 1


class Sandboxes:
    """`client.sandboxes`: create, find and list sandboxes."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def create(
        self,
        profile: str = "python-default",
        *,
        ttl: int | None = None,
        cargo_id: str | None = None,
        network: api.NetworkPolicy | str | dict[str, Any] | None = None,
        metadata: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> Sandbox:
        """Create a sandbox; compute starts on first use.

        `ttl` seconds until it expires (None: never); `cargo_id` mounts an external cargo;
        `network` narrows the profile's network policy (`"none"`, `"internet"`, or a
        `NetworkPolicy` with an allow list); `metadata` labels it (returned on every read,
        filterable on `list`); `env` is merged over the profile's env for its shell, kernel,
        processes and terminal, and never shown back. A fresh idempotency key is sent when
        none is given, so a retried create makes one sandbox.
        """
        fields = {"ttl": ttl, "cargo_id": cargo_id, "network": network, "metadata": metadata}
        call = req.create_sandbox(idempotency_key, profile=profile, env=env, **fields)
        return Sandbox(self._client, self._client._call(call))

    def get(self, sandbox_id: str) -> Sandbox:
        """A handle on an existing sandbox; `NotFoundError` if it is gone or not yours."""
        return Sandbox(self._client, self._client._call(req.get_sandbox(sandbox_id)))

    def list(
        self,
        *,
        limit: int = 50,
        cursor: str | None = None,
        status: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> api.SandboxList:
        """One page of your sandboxes; pass `next_cursor` back as `cursor` for the next.
        `metadata`: only those labelled with each of these values."""
        return self._client._call(req.list_sandboxes(limit, cursor, status, metadata))


class Cargos:
    """`client.cargos`: persistent volumes that outlive sandboxes."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def create(
        self, *, size_limit_mb: int | None = None, idempotency_key: str | None = None
    ) -> api.Cargo:
        """Create an external cargo (a fresh idempotency key is sent when none is given)."""
        return self._client._call(req.create_cargo(size_limit_mb, idempotency_key))

    def get(self, cargo_id: str) -> api.Cargo:
        """One cargo by id."""
        return self._client._call(req.get_cargo(cargo_id))

    def delete(self, cargo_id: str) -> None:
        """Delete a cargo; `ConflictError` while a sandbox still uses it."""
        self._client._call(req.delete_cargo(cargo_id))

    def list(
        self, *, limit: int = 50, cursor: str | None = None, managed: bool | None = None
    ) -> api.CargoList:
        """One page of cargos: external ones unless `managed=True`."""
        return self._client._call(req.list_cargos(limit, cursor, managed))


class Profiles:
    """`client.profiles`: the sandbox profiles Bay offers."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def list(self, *, detail: bool = False) -> api.ProfileList:
        """Every profile; `detail` adds description, containers, preload, network and warm pool."""
        return self._client._call(req.list_profiles(detail))


class Admin:
    """`client.admin`: API keys and garbage collection (admin keys only)."""

    def __init__(self, client: Client) -> None:
        self.keys = Keys(client)
        self.gc = Gc(client)


class Keys:
    """`client.admin.keys`: create, list and revoke API keys."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def create(self, owner: str, *, admin: bool = False) -> api.KeyCreated:
        """A new key for `owner`; its secret is shown only in this answer."""
        return self._client._call(req.create_key(owner, admin))

    def list(self) -> api.KeyList:
        """Every key, without secrets."""
        return self._client._call(req.list_keys())

    def revoke(self, key_id: str) -> None:
        """Deactivate a key; requests with it are refused from then on."""
        self._client._call(req.revoke_key(key_id))


class Gc:
    """`client.admin.gc`: run and inspect garbage collection."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def run(self, tasks: builtins.list[str] | None = None) -> api.GcRunResult:
        """Run one cycle now, of the named `tasks` only when given."""
        return self._client._call(req.run_gc(tasks))

    def status(self) -> api.GcStatus:
        """Whether GC is enabled or running, and its tasks."""
        return self._client._call(req.gc_status())
