"""`AsyncClient` and its account-wide resources: they only send what the builder makes."""

import asyncio
import builtins
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from shipyard import _endpoints as req
from shipyard import _requests
from shipyard._async_sandbox import AsyncSandbox
from shipyard._async_skills import AsyncSkills
from shipyard._async_stream import AsyncExecStream
from shipyard._events import Tracker
from shipyard._transfer import Progress, Receiver, Target, open_target
from shipyard.errors import ShipyardError
from shipyard_protocol import api
from shipyard_protocol.ship import ExecEvent

T = TypeVar("T")


class AsyncClient:
    """Async client for Bay; use it as `async with AsyncClient() as client:`.

    `endpoint` and `api_key` fall back to `SHIPYARD_ENDPOINT` and `SHIPYARD_API_KEY`. Safe
    calls are retried per `retries`; `transport` is passed to `httpx.AsyncClient`. Both
    clients share one request builder and differ only in how they send.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 120.0,
        retries: _requests.Retries | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        options = _requests.client_options(endpoint, api_key, timeout, transport)
        self._http = httpx.AsyncClient(**options)
        self._retries = _requests.Retries() if retries is None else retries
        self.sandboxes = AsyncSandboxes(self)
        self.cargos = AsyncCargos(self)
        self.skills = AsyncSkills(self)
        self.profiles = AsyncProfiles(self)
        self.admin = AsyncAdmin(self)

    async def health(self) -> api.Health:
        """Bay's `GET /health`: status and version, no key needed."""
        return await self._call(req.health())

    async def aclose(self) -> None:
        """Close the connection pool; `async with` does this for you."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _call(self, call: _requests.Call[T]) -> T:
        response = await self._respond(call)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return call.parse(response)

    async def _download(
        self, call: _requests.Call[None], target: Target, progress: Progress | None
    ) -> int:
        async with self._opened(call) as response:
            with open_target(target) as stream:
                receiver = Receiver(stream, _requests.content_length(response), progress)
                async for chunk in response.aiter_bytes():
                    receiver.write(chunk)
        return receiver.done

    def _stream(
        self,
        call: _requests.Call[None],
        sandbox_id: str,
        execution_id: str | None = None,
        after: int = 0,
    ) -> AsyncExecStream:
        tracker = Tracker(sandbox_id, self._retries, execution_id, after)
        return AsyncExecStream(self._follow(call, tracker), tracker)

    async def _follow(
        self, call: _requests.Call[None], tracker: Tracker
    ) -> AsyncGenerator[ExecEvent, None]:
        while True:
            try:
                async with self._opened(call) as response:
                    async for line in response.aiter_lines():
                        event = tracker.feed(line)
                        if event is not None:
                            yield event
                        if tracker.end is not None:
                            return
            except (httpx.TransportError, ShipyardError) as exc:
                call = tracker.resume(exc)
            else:
                call = tracker.resume(None)
            await asyncio.sleep(tracker.delay())

    @asynccontextmanager
    async def _opened(self, call: _requests.Call[Any]) -> AsyncIterator[httpx.Response]:
        """A streamed answer, closed on exit; an error answer raises before the block."""
        response = await self._respond(call)
        try:
            if response.is_error:
                await response.aread()
                call.parse(response)
            yield response
        finally:
            await response.aclose()

    async def _respond(self, call: _requests.Call[Any]) -> httpx.Response:
        attempt = 0
        while True:
            sent = _requests.log_sent(call)
            try:
                response = await self._http.send(call.build(self._http), stream=True)
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
                await response.aclose()
                cause = response.status_code
            await asyncio.sleep(_requests.log_retry(call, cause, attempt, self._retries))
            attempt += 1


class AsyncSandboxes:
    """`client.sandboxes`: create, find and list sandboxes."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def create(
        self,
        profile: str = "python-default",
        *,
        ttl: int | None = None,
        cargo_id: str | None = None,
        network: api.NetworkPolicy | str | dict[str, Any] | None = None,
        metadata: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> AsyncSandbox:
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
        return AsyncSandbox(self._client, await self._client._call(call))

    async def get(self, sandbox_id: str) -> AsyncSandbox:
        """A handle on an existing sandbox; `NotFoundError` if it is gone or not yours."""
        return AsyncSandbox(self._client, await self._client._call(req.get_sandbox(sandbox_id)))

    async def list(
        self,
        *,
        limit: int = 50,
        cursor: str | None = None,
        status: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> api.SandboxList:
        """One page of your sandboxes; pass `next_cursor` back as `cursor` for the next.
        `metadata`: only those labelled with each of these values."""
        return await self._client._call(req.list_sandboxes(limit, cursor, status, metadata))


class AsyncCargos:
    """`client.cargos`: persistent volumes that outlive sandboxes."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def create(
        self, *, size_limit_mb: int | None = None, idempotency_key: str | None = None
    ) -> api.Cargo:
        """Create an external cargo (a fresh idempotency key is sent when none is given)."""
        return await self._client._call(req.create_cargo(size_limit_mb, idempotency_key))

    async def get(self, cargo_id: str) -> api.Cargo:
        """One cargo by id."""
        return await self._client._call(req.get_cargo(cargo_id))

    async def delete(self, cargo_id: str) -> None:
        """Delete a cargo; `ConflictError` while a sandbox still uses it."""
        await self._client._call(req.delete_cargo(cargo_id))

    async def list(
        self, *, limit: int = 50, cursor: str | None = None, managed: bool | None = None
    ) -> api.CargoList:
        """One page of cargos: external ones unless `managed=True`."""
        return await self._client._call(req.list_cargos(limit, cursor, managed))


class AsyncProfiles:
    """`client.profiles`: the sandbox profiles Bay offers."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def list(self, *, detail: bool = False) -> api.ProfileList:
        """Every profile; `detail` adds description, containers, preload, network and warm pool."""
        return await self._client._call(req.list_profiles(detail))


class AsyncAdmin:
    """`client.admin`: API keys and garbage collection (admin keys only)."""

    def __init__(self, client: AsyncClient) -> None:
        self.keys = AsyncKeys(client)
        self.gc = AsyncGc(client)


class AsyncKeys:
    """`client.admin.keys`: create, list and revoke API keys."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def create(self, owner: str, *, admin: bool = False) -> api.KeyCreated:
        """A new key for `owner`; its secret is shown only in this answer."""
        return await self._client._call(req.create_key(owner, admin))

    async def list(self) -> api.KeyList:
        """Every key, without secrets."""
        return await self._client._call(req.list_keys())

    async def revoke(self, key_id: str) -> None:
        """Deactivate a key; requests with it are refused from then on."""
        await self._client._call(req.revoke_key(key_id))


class AsyncGc:
    """`client.admin.gc`: run and inspect garbage collection."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def run(self, tasks: builtins.list[str] | None = None) -> api.GcRunResult:
        """Run one cycle now, of the named `tasks` only when given."""
        return await self._client._call(req.run_gc(tasks))

    async def status(self) -> api.GcStatus:
        """Whether GC is enabled or running, and its tasks."""
        return await self._client._call(req.gc_status())
