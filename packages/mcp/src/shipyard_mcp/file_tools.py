"""Tools for the sandbox's files: text reads and writes, listings, and streamed transfers
between the sandbox and the MCP server's machine."""

import functools
from pathlib import Path, PurePosixPath
from typing import Annotated

from pydantic import Field

from shipyard_mcp import text
from shipyard_mcp.text import ToolInputError, check_path
from shipyard_mcp.tools import SandboxId, Tools, answered

WorkspacePath = Annotated[
    str, Field(description="Path relative to /workspace, or absolute inside it.")
]


class TransferTooLargeError(ToolInputError):
    """A transfer went past `SHIPYARD_MAX_TRANSFER_FILE_BYTES`."""


class FileTools(Tools):
    """The workspace's files."""

    @answered
    async def read_file(self, sandbox_id: SandboxId, path: WorkspacePath) -> str:
        """Read a UTF-8 text file."""
        content = await (await self._sandbox(sandbox_id)).files.read(check_path(path))
        return self._bounded(content)

    @answered
    async def write_file(self, sandbox_id: SandboxId, path: WorkspacePath, content: str) -> str:
        """Write a UTF-8 text file, creating parent directories."""
        size = len(content.encode())
        if size > self._settings.max_write_bytes:
            raise ToolInputError(
                f"content is {size} bytes; the limit is {self._settings.max_write_bytes}"
            )
        await (await self._sandbox(sandbox_id)).files.write(check_path(path), content)
        return f"Wrote {size} bytes to {path}"

    @answered
    async def list_files(self, sandbox_id: SandboxId, path: WorkspacePath = ".") -> str:
        """List a directory of the workspace."""
        entries = await (await self._sandbox(sandbox_id)).files.list(check_path(path))
        return self._bounded(text.file_list(path, entries))

    @answered
    async def delete_file(self, sandbox_id: SandboxId, path: WorkspacePath) -> str:
        """Delete a file, or a directory with everything in it."""
        await (await self._sandbox(sandbox_id)).files.delete(check_path(path))
        return f"Deleted {path}"

    @answered
    async def upload_file(
        self,
        sandbox_id: SandboxId,
        local_path: Annotated[str, Field(description="A file on the MCP server's machine.")],
        sandbox_path: Annotated[str | None, Field(description="Target; default: its name.")] = None,
    ) -> str:
        """Copy a local file into the sandbox, streamed."""
        source = _local_file(local_path, self._settings.max_transfer_bytes)
        target = check_path(sandbox_path or source.name, "sandbox_path")
        result = await (await self._sandbox(sandbox_id)).files.upload(target, source)
        return f"Uploaded {source} to {result.path} ({result.size} bytes)"

    @answered
    async def download_file(
        self,
        sandbox_id: SandboxId,
        sandbox_path: WorkspacePath,
        local_path: Annotated[
            str | None, Field(description="Where to save; default: ./name.")
        ] = None,
    ) -> str:
        """Copy a sandbox file to the MCP server's machine, streamed."""
        source = check_path(sandbox_path, "sandbox_path")
        target = _local_target(local_path, source)
        limit = functools.partial(_limit, self._settings.max_transfer_bytes)
        sandbox = await self._sandbox(sandbox_id)
        size = await sandbox.files.download(source, target, progress=limit)
        return f"Downloaded {source} to {target} ({size} bytes)"


def _local_file(local_path: str, limit: int) -> Path:
    path = Path(local_path).expanduser()
    if not path.is_file():
        raise ToolInputError(f"local_path {path} is not a file")
    if path.stat().st_size > limit:
        raise TransferTooLargeError(f"{path} is over the {limit}-byte transfer limit")
    return path


def _local_target(local_path: str | None, sandbox_path: str) -> Path:
    return Path(local_path or PurePosixPath(sandbox_path).name).expanduser().absolute()


def _limit(limit: int, done: int, total: int | None) -> None:
    if done > limit or (total or 0) > limit:
        raise TransferTooLargeError(f"the file is over the {limit}-byte transfer limit")
