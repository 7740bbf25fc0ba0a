"""Ship's internal HTTP API: the models Bay and Ship exchange over the control channel.

Ship is reached only by Bay. Paths (all JSON unless noted):

- `GET  /health`                      -> ShipHealth
- `POST /python/exec`   PythonRun     -> PythonOutcome
- `POST /shell/exec`    ShellRun      -> ShellOutcome
- `GET  /files?path=`                 -> FileText
- `PUT  /files`         FileText      -> FileWritten
- `DELETE /files?path=`               -> FileWritten
- `GET  /directories?path=`           -> DirectoryListing
- `PUT  /upload?path=`  raw body      -> FileWritten (streamed to disk)
- `GET  /download?path=`              -> raw bytes (streamed)

Errors are `ErrorBody` with a matching status: 404 file_not_found, 400 invalid_path
(the path resolves outside the workspace), 400 validation_error (a directory where a
file is expected, text that is not UTF-8), 507 quota_exceeded (no space left).
"""

from typing import Any

from pydantic import BaseModel, Field

SHIP_API_VERSION = "1"
DEFAULT_OUTPUT_LIMIT = 1024 * 1024


class ShipHealth(BaseModel):
    """Ship answers this once it serves requests."""

    status: str = "ok"
    version: str
    kernel_generation: int = Field(
        description="0 before the first kernel starts; grows each time kernel state is lost"
    )


class PythonRun(BaseModel):
    """Run code in the session's IPython kernel."""

    code: str
    timeout: float = Field(default=30, gt=0, le=3600)


class PythonError(BaseModel):
    """An exception raised by the user's code (or a timeout / kernel death)."""

    name: str
    value: str
    traceback: list[str] = Field(default_factory=list)


class PythonOutcome(BaseModel):
    """Everything one execution produced; only messages parented by it are collected."""

    success: bool
    text: str = Field(description="stdout, then stderr, then the execute_result text/plain")
    outputs: list[dict[str, Any]] = Field(
        default_factory=list,
        description="rich display bundles (mime -> data; binary types base64)",
    )
    error: PythonError | None = None
    execution_count: int | None = None
    kernel_generation: int
    kernel_restarted: bool = Field(
        default=False, description="state was lost before or during this execution"
    )
    timed_out: bool = False
    truncated: bool = False


class ShellRun(BaseModel):
    """Run `bash -lc command` in its own process group."""

    command: str
    timeout: float = Field(default=30, gt=0, le=3600)
    cwd: str = "."
    env: dict[str, str] = Field(default_factory=dict)


class ShellOutcome(BaseModel):
    """Exit status and captured streams; exit_code is -1 when the command was killed on timeout."""

    exit_code: int
    stdout: str
    stderr: str
    timed_out: bool = False
    truncated: bool = False


class FileText(BaseModel):
    """A text file's path (relative to the workspace) and content."""

    path: str
    content: str


class FileWritten(BaseModel):
    """The workspace-relative path touched and its size in bytes (0 for deletes)."""

    path: str
    size: int = 0


class FileEntry(BaseModel):
    """One directory entry, shaped like upstream Ship's FileInfo."""

    name: str
    path: str = Field(description="absolute path inside the sandbox, e.g. /workspace/a.txt")
    is_file: bool
    is_dir: bool
    size: int | None
    modified_time: float


class DirectoryListing(BaseModel):
    """Entries of one directory: hidden ones left out, directories first, then by name."""

    entries: list[FileEntry]
