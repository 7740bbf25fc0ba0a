"""`AsyncSandbox`: a handle on one sandbox, with its python, shell, browser, files, history,
executions, processes and terminal."""

import builtins
from types import TracebackType
from typing import TYPE_CHECKING, Self

from shipyard import _endpoints as req
from shipyard._async_execs import (
    AsyncBrowser,
    AsyncExecutions,
    AsyncProcesses,
    AsyncPython,
    AsyncShell,
)
from shipyard._async_terminal import AsyncTerminal
from shipyard._terminal import TerminalTarget
from shipyard._transfer import Progress, Source, Target, open_source
from shipyard_protocol import api

if TYPE_CHECKING:
    from shipyard._async import AsyncClient


class AsyncSandbox:
    """A handle on one sandbox: its last-known `info`, plus `python`, `shell`, `browser`,
    `files`, `history`, `executions`, `processes` and `terminal()`.

    `async with` deletes the sandbox on exit.
    """

    def __init__(self, client: "AsyncClient", info: api.Sandbox) -> None:
        self._client = client
        self.info = info
        self.python = AsyncPython(client, info.id)
        self.shell = AsyncShell(client, info.id)
        self.browser = AsyncBrowser(client, info.id)
        self.files = AsyncFiles(client, info.id)
        self.history = AsyncHistory(client, info.id)
        self.executions = AsyncExecutions(client, info.id)
        self.processes = AsyncProcesses(client, info.id)

    @property
    def id(self) -> str:
        """The sandbox id, `sandbox-…`."""
        return self.info.id

    def __repr__(self) -> str:
        return f"<AsyncSandbox {self.id} {self.info.status}>"

    async def refresh(self) -> api.Sandbox:
        """Read the sandbox again and update `info`."""
        self.info = await self._client._call(req.get_sandbox(self.id))
        return self.info

    async def extend_ttl(self, seconds: int, *, idempotency_key: str | None = None) -> api.Sandbox:
        """Push `expires_at` back by `seconds` and update `info` (keyed, so retries are safe)."""
        call = req.extend_ttl(self.id, seconds, idempotency_key)
        self.info = await self._client._call(call)
        return self.info

    async def keepalive(self) -> None:
        """Reset the idle timer without running anything."""
        await self._client._call(req.keepalive(self.id))

    async def url(self, port: int, *, expires_in: int = 3600) -> api.PortUrl:
        """A link to `port` of the sandbox that works without an API key for `expires_in`
        seconds (at most 7 days): for a browser, a webhook or a colleague. The server must
        already listen on 127.0.0.1 or 0.0.0.0 in the sandbox."""
        return await self._client._call(req.port_url(self.id, port, expires_in))

    async def stop(self) -> None:
        """Stop the compute; files stay, Python variables are lost: the next Python result
        says `kernel_restarted`."""
        await self._client._call(req.stop_sandbox(self.id))

    async def delete(self) -> None:
        """Delete the sandbox and its managed cargo (idempotent)."""
        await self._client._call(req.delete_sandbox(self.id))

    def terminal(self, cols: int = 80, rows: int = 24) -> AsyncTerminal:
        """An interactive bash in the sandbox, connected by `async with` (see `AsyncTerminal`)."""
        return AsyncTerminal(TerminalTarget(self._client._http, self.id, cols, rows))

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.delete()


class AsyncFiles:
    """`sandbox.files`: the workspace; a path is relative to `/workspace` or absolute inside it."""

    def __init__(self, client: "AsyncClient", sandbox_id: str) -> None:
        self._client = client
        self._id = sandbox_id

    async def read(self, path: str) -> str:
        """A UTF-8 text file's content."""
        return await self._client._call(req.read_file(self._id, path))

    async def write(self, path: str, content: str) -> None:
        """Write a UTF-8 text file, creating parent directories."""
        await self._client._call(req.write_file(self._id, path, content))

    async def list(self, path: str = ".") -> builtins.list[api.FileInfo]:
        """A directory's entries, directories first; hidden entries are left out."""
        return await self._client._call(req.list_files(self._id, path))

    async def delete(self, path: str) -> None:
        """Delete a file, or a directory with everything in it."""
        await self._client._call(req.delete_file(self._id, path))

    async def upload(
        self, path: str, source: Source, *, progress: Progress | None = None
    ) -> api.UploadResult:
        """Stream a local file (a path, a binary file object or bytes) to `path`.

        Nothing is read into memory whole; a seekable file is sent from its start.
        """
        with open_source(source, progress) as stream:
            return await self._client._call(req.upload_file(self._id, path, stream))

    async def download(self, path: str, target: Target, *, progress: Progress | None = None) -> int:
        """Stream `path` into a local path or binary file object; returns the bytes written."""
        call = req.download_file(self._id, path)
        return await self._client._download(call, target, progress)


class AsyncHistory:
    """`sandbox.history`: the sandbox's past executions, newest first."""

    def __init__(self, client: "AsyncClient", sandbox_id: str) -> None:
        self._client = client
        self._id = sandbox_id

    async def list(
        self,
        *,
        exec_type: str | None = None,
        success_only: bool = False,
        limit: int = 100,
        offset: int = 0,
        tags: req.Tags | None = None,
        has_notes: bool = False,
        has_description: bool = False,
    ) -> api.ExecutionList:
        """A page of executions; `tags` match as case-insensitive substrings, any of them."""
        call = req.list_history(
            self._id,
            exec_type=exec_type,
            success_only=success_only,
            limit=limit,
            offset=offset,
            tags=tags,
            has_notes=has_notes,
            has_description=has_description,
        )
        return await self._client._call(call)

    async def get(self, execution_id: str) -> api.ExecutionEntry:
        """One execution by id."""
        return await self._client._call(req.get_execution(self._id, execution_id))

    async def last(self, *, exec_type: str | None = None) -> api.ExecutionEntry:
        """The newest execution (of `exec_type`); `NotFoundError` when there is none."""
        return await self._client._call(req.last_execution(self._id, exec_type))

    async def annotate(
        self,
        execution_id: str,
        *,
        description: str | None = None,
        tags: req.Tags | None = None,
        notes: str | None = None,
    ) -> api.ExecutionEntry:
        """Set the fields given (others stay) and return the entry."""
        call = req.annotate_execution(
            self._id, execution_id, description=description, tags=tags, notes=notes
        )
        return await self._client._call(call)
