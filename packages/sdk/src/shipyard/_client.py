"""`AsyncClient` and `Client`: thin transports around the shared request builder."""

import os
from types import TracebackType

import httpx

from shipyard import _requests
from shipyard_protocol.api import PythonExecResult, Sandbox, ShellExecResult


def _settings(endpoint: str | None, api_key: str | None) -> tuple[str, dict[str, str]]:
    url = endpoint or os.environ.get("SHIPYARD_ENDPOINT", "http://127.0.0.1:8114")
    key = api_key or os.environ.get("SHIPYARD_API_KEY")
    return url, ({"Authorization": f"Bearer {key}"} if key else {})


class AsyncClient:
    """Async client for Bay; use it as `async with AsyncClient(...) as bay:`.

    `endpoint` and `api_key` fall back to `SHIPYARD_ENDPOINT` and `SHIPYARD_API_KEY`.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        url, headers = _settings(endpoint, api_key)
        self._http = httpx.AsyncClient(
            base_url=url, headers=headers, timeout=timeout, transport=transport
        )

    async def _send(self, call: _requests.Call) -> httpx.Response:
        return await self._http.request(call.method, call.url, json=call.json, params=call.params)

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._http.aclose()

    async def create_sandbox(
        self, profile: str = "python-default", ttl: int | None = None
    ) -> Sandbox:
        """Create a sandbox; compute starts on its first call."""
        response = await self._send(_requests.create_sandbox(profile, ttl))
        return _requests.parse(response, Sandbox)

    async def get_sandbox(self, sandbox_id: str) -> Sandbox:
        """Read a sandbox; `NotFoundError` if it is gone or not yours."""
        return _requests.parse(await self._send(_requests.get_sandbox(sandbox_id)), Sandbox)

    async def delete_sandbox(self, sandbox_id: str) -> None:
        """Delete a sandbox and its managed cargo (idempotent)."""
        _requests.raise_for_error(await self._send(_requests.delete_sandbox(sandbox_id)))

    async def run_python(self, sandbox_id: str, code: str, timeout: int = 30) -> PythonExecResult:
        """Run code in the sandbox's IPython kernel; variables persist between calls."""
        request = _requests.run_python(sandbox_id, code, timeout)
        return _requests.parse(await self._send(request), PythonExecResult)

    async def run_shell(self, sandbox_id: str, command: str, timeout: int = 30) -> ShellExecResult:
        """Run `bash -lc command` in the sandbox's /workspace."""
        request = _requests.run_shell(sandbox_id, command, timeout)
        return _requests.parse(await self._send(request), ShellExecResult)


class Client:
    """The synchronous twin of `AsyncClient`, built on the same request builder."""

    def __init__(
        self,
        endpoint: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        url, headers = _settings(endpoint, api_key)
        self._http = httpx.Client(
            base_url=url, headers=headers, timeout=timeout, transport=transport
        )

    def _send(self, call: _requests.Call) -> httpx.Response:
        return self._http.request(call.method, call.url, json=call.json, params=call.params)

    def __enter__(self) -> "Client":
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._http.close()

    def create_sandbox(self, profile: str = "python-default", ttl: int | None = None) -> Sandbox:
        """Create a sandbox; compute starts on its first call."""
        return _requests.parse(self._send(_requests.create_sandbox(profile, ttl)), Sandbox)

    def get_sandbox(self, sandbox_id: str) -> Sandbox:
        """Read a sandbox; `NotFoundError` if it is gone or not yours."""
        return _requests.parse(self._send(_requests.get_sandbox(sandbox_id)), Sandbox)

    def delete_sandbox(self, sandbox_id: str) -> None:
        """Delete a sandbox and its managed cargo (idempotent)."""
        _requests.raise_for_error(self._send(_requests.delete_sandbox(sandbox_id)))

    def run_python(self, sandbox_id: str, code: str, timeout: int = 30) -> PythonExecResult:
        """Run code in the sandbox's IPython kernel; variables persist between calls."""
        request = _requests.run_python(sandbox_id, code, timeout)
        return _requests.parse(self._send(request), PythonExecResult)

    def run_shell(self, sandbox_id: str, command: str, timeout: int = 30) -> ShellExecResult:
        """Run `bash -lc command` in the sandbox's /workspace."""
        request = _requests.run_shell(sandbox_id, command, timeout)
        return _requests.parse(self._send(request), ShellExecResult)
