# generated from _async_sandbox.py by scripts/unasync.py; do not edit
"""`Sandbox`: a handle on one sandbox, with its python, shell, browser, files, history,
executions, processes and terminal."""

import builtins
from types import TracebackType
from typing import TYPE_CHECKING, Self

from shipyard import _endpoints as req
from shipyard._sync_execs import (
    Browser,
    Executions,
    Processes,
    Python,
    Shell,
)
from shipyard._sync_terminal import Terminal
from shipyard._terminal import TerminalTarget
from shipyard._transfer import Progress, Source, Target, open_source
from shipyard_protocol import api

if TYPE_CHECKING:
    from shipyard._sync import Client


class Sandbox:
    """A handle on one sandbox: its last-known `info`, plus `python`, `shell`, `browser`,
    `files`, `history`, `executions`, `processes` and `terminal()`.

    `with` deletes the sandbox on exit.
    """

    def __init__(self, client: "Client", info: api.Sandbox) -> None:
        self._client = client
        self.info = info
        self.python = Python(client, info.id)
        self.shell = Shell(client, info.id)
        self.browser = Browser(client, info.id)
        self.files = Files(client, info.id)
        self.history = History(client, info.id)
        self.executions = Executions(client, info.id)
        self.processes = Processes(client, info.id)

    @property
    def id(self) -> str:
        """The sandbox id, `sandbox-…`."""
        return self.info.id

    def __repr__(self) -> str:
        return f"<Sandbox {self.id} {self.info.status}>"

    def refresh(self) -> api.Sandbox:
        """Read the sandbox again and update `info`."""
        self.info = self._client._call(req.get_sandbox(self.id))
        return self.info

    def extend_ttl(self, seconds: int, *, idempotency_key: str | None = None) -> api.Sandbox:
        """Push `expires_at` back by `seconds` and update `info` (keyed, so retries are safe)."""
        call = req.extend_ttl(self.id, seconds, idempotency_key)
        self.info = self._client._call(call)
        return self.info

    def keepalive(self) -> None:
        """Reset the idle timer without running anything."""
        self._client._call(req.keepalive(self.id))

    def url(self, port: int, *, expires_in: int = 3600) -> api.PortUrl:
        """A link to `port` of the sandbox that works without an API key for `expires_in`
        seconds (at most 7 days): for a browser, a webhook or a colleague. The server must
        already listen on 127.0.0.1 or 0.0.0.0 in the sandbox."""
        return self._client._call(req.port_url(self.id, port, expires_in))

    def stop(self) -> None:
        """Stop the compute; files stay, Python variables are lost: the next Python result
        says `kernel_restarted`."""
        self._client._call(req.stop_sandbox(self.id))

    def delete(self) -> None:
        """Delete the sandbox and its managed cargo (idempotent)."""
        self._client._call(req.delete_sandbox(self.id))

    def terminal(self, cols: int = 80, rows: int = 24) -> Terminal:
        """An interactive bash in the sandbox, connected by `with` (see `Terminal`)."""
        return Terminal(TerminalTarget(self._client._http, self.id, cols, rows))

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.delete()


class Files:
    """`sandbox.files`: the workspace; a path is relative to `/workspace` or absolute inside it."""

    def __init__(self, client: "Client", sandbox_id: str) -> None:
        self._client = client
        self._id = sandbox_id

    def read(self, path: str) -> str:
        """A UTF-8 text file's content."""
        return self._client._call(req.read_file(self._id, path))

    def write(self, path: str, content: str) -> None:
        """Write a UTF-8 text file, creating parent directories."""
        self._client._call(req.write_file(self._id, path, content))

    def list(self, path: str = ".") -> builtins.list[api.FileInfo]:
        """A directory's entries, directories first; hidden entries are left out."""
        return self._client._call(req.list_files(self._id, path))

    def delete(self, path: str) -> None:
        """Delete a file, or a directory with everything in it."""
        self._client._call(req.delete_file(self._id, path))

    def upload(
        self, path: str, source: Source, *, progress: Progress | None = None
    ) -> api.UploadResult:
        """Stream a local file (a path, a binary file object or bytes) to `path`.

        Nothing is read into memory whole; a seekable file is sent from its start.
        """
        with open_source(source, progress) as stream:
            return self._client._call(req.upload_file(self._id, path, stream))

    def download(self, path: str, target: Target, *, progress: Progress | None = None) -> int:
        """Stream `path` into a local path or binary file object; returns the bytes written."""
        call = req.download_file(self._id, path)
        return self._client._download(call, target, progress)


class History:
    """`sandbox.history`: the sandbox's past executions, newest first."""

    def __init__(self, client: "Client", sandbox_id: str) -> None:
        self._client = client
        self._id = sandbox_id

    def list(
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
        return self._client._call(call)

    def get(self, execution_id: str) -> api.ExecutionEntry:
        """One execution by id."""
        return self._client._call(req.get_execution(self._id, execution_id))

    def last(self, *, exec_type: str | None = None) -> api.ExecutionEntry:
        """The newest execution (of `exec_type`); `NotFoundError` when there is none."""
        return self._client._call(req.last_execution(self._id, exec_type))

    def annotate(
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
        return self._client._call(call)
