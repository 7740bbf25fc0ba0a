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

Executions (python and shell alike) run as tasks Ship owns, so a dropped client never stops
one. With `Accept: application/x-ndjson`, `POST /python/exec` and `POST /shell/exec` answer
the execution's events as NDJSON (`ExecEvent`, one per line, `seq` from 1, always ending
with an `end` event); without it they answer the collected outcome, which is exactly what
the stream would have collected (capped; the stream itself is not).

- `GET  /executions/{id}?wait=S`      -> ExecutionState (waits up to S seconds for the end)
- `GET  /executions/{id}/events?after=N` -> NDJSON ExecEvent with seq > N, following live;
  404 `not_found` when unknown, 410 `not_found` when events after N fell out of the
  bounded event log
- `POST /python/interrupt`            -> KernelState
- `POST /python/restart`              -> KernelState
- `GET  /activity`                    -> Activity (what keeps the session busy)
- `POST /processes`     ProcessStart  -> ProcessInfo (detached; returns at once)
- `GET  /processes`                   -> ProcessList
- `GET  /processes/{id}`              -> ProcessInfo
- `GET  /processes/{id}/logs?stream=stdout|stderr&offset=N&limit=M` -> ProcessLogs
- `POST /processes/{id}/wait?timeout=S` -> ProcessInfo (when it exited, or after S seconds)
- `POST /processes/{id}/signal` ProcessSignal -> ProcessInfo
- `DELETE /processes/{id}`            -> ProcessInfo (killed with its group, then forgotten)
- `WS   /terminal?cols=C&rows=R`      -> a PTY running `bash -l`; text frames in are
  `TerminalInput` JSON, binary frames out are the terminal's bytes; closing ends the shell
- `ANY  /ports/{port}/{path}`         -> the answer of the server on 127.0.0.1:{port}, both
  bodies streamed; `WS` on the same path relays messages to its WebSocket
- `POST /browser/exec`        BrowserRun      -> BrowserStep (one agent-browser command)
- `POST /browser/exec_batch`  BrowserBatchRun -> BrowserBatch (commands in order, one budget)
- `POST /browser/close`                        -> BrowserClosed (before a stop: the profile
  is written to the cargo)
- `WS   /tunnels/{port}`              -> raw TCP to 127.0.0.1:{port} in binary frames
  Ship's own refusals (502 ship_error: nothing listens; 400: a bad port) carry an
  `x-ship-error` header, which a relayed answer never does

Errors are `ErrorBody` with the status `errors.STATUS_BY_CODE` gives: 404 file_not_found,
400 invalid_path (the path resolves outside the workspace), 400 validation_error (a directory
where a file is expected, text that is not UTF-8), 429 quota_exceeded (no space left).
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

# Seconds Ship keeps an idle connection from Bay open; Bay stops reusing one a second before.
KEEP_ALIVE_S = 5

SHIP_API_VERSION = "1"
DEFAULT_OUTPUT_LIMIT = 1024 * 1024


class ShipHealth(BaseModel):
    """Ship answers this once it serves requests."""

    status: str = "ok"
    version: str
    kernel_generation: int = Field(
        description="0 before the first kernel starts; grows each time kernel state is lost"
    )
    browser: bool = Field(
        default=False, description="agent-browser and Chromium are installed (POST /browser/*)"
    )


class ShipLogLine(BaseModel):
    """One of Ship's own log records (not the user's output)."""

    time: float = Field(description="seconds since the epoch")
    level: str
    logger: str
    message: str


class ShipLogs(BaseModel):
    """`POST /logs/drain`: the lines Ship kept since the last drain, oldest first; `dropped`
    counts lines that fell out of its bounded buffer before anyone read them."""

    lines: list[ShipLogLine]
    dropped: int = 0


class PythonRun(BaseModel):
    """Run code in the session's IPython kernel."""

    code: str
    timeout: float = Field(default=30, gt=0, le=3600)
    execution_id: str | None = Field(default=None, description="Bay's id; Ship makes one if absent")


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
    execution_id: str | None = Field(default=None, description="Bay's id; Ship makes one if absent")


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


class _Event(BaseModel):
    seq: int = Field(ge=1, description="1, 2, 3, ... within one execution")
    execution_id: str


class OutputEvent(_Event):
    """A chunk of stdout or stderr text (decoded as UTF-8 with replacement)."""

    kind: Literal["stdout", "stderr"]
    text: str


class DisplayEvent(_Event):
    """A rich display bundle (mime -> data; binary types base64)."""

    kind: Literal["display"] = "display"
    data: dict[str, Any]


class ResultEvent(_Event):
    """The value of the last expression (execute_result): its text and its bundle."""

    kind: Literal["result"] = "result"
    text: str
    data: dict[str, Any] = Field(default_factory=dict)


class ErrorEvent(_Event):
    """The exception the user's code raised (or the timeout / kernel death)."""

    kind: Literal["error"] = "error"
    error: PythonError


class EndEvent(_Event):
    """Always the last event; a stream that stops without one was cut."""

    kind: Literal["end"] = "end"
    success: bool
    exit_code: int | None = None
    error: str | None = None
    timed_out: bool = False
    duration_ms: int
    kernel_generation: int | None = None
    kernel_restarted: bool = False


ExecEvent = Annotated[
    OutputEvent | DisplayEvent | ResultEvent | ErrorEvent | EndEvent, Field(discriminator="kind")
]


class ExecutionState(BaseModel):
    """Where one execution stands; `outcome` once it ended."""

    execution_id: str
    exec_type: Literal["python", "shell"]
    state: Literal["running", "finished"]
    last_seq: int
    outcome: PythonOutcome | ShellOutcome | None = None


class KernelState(BaseModel):
    """The kernel after an interrupt or a restart."""

    kernel_generation: int
    restarted: bool


class Activity(BaseModel):
    """What keeps a session busy; idle reclaim leaves a busy session alone."""

    running_executions: int
    running_processes: int
    open_terminals: int
    open_ports: int = 0  # relayed HTTP answers, WebSockets and tunnels still open

    @property
    def busy(self) -> bool:
        running = self.running_executions or self.running_processes
        return bool(running or self.open_terminals or self.open_ports)


class ProcessStart(BaseModel):
    """Start `bash -lc command` detached; its output goes to log files in the sandbox."""

    command: str
    cwd: str = "."
    env: dict[str, str] = Field(default_factory=dict)


class ProcessInfo(BaseModel):
    process_id: str
    pid: int
    command: str
    state: Literal["running", "exited"]
    exit_code: int | None = None
    started_at: float
    ended_at: float | None = None


class ProcessList(BaseModel):
    processes: list[ProcessInfo]


class ProcessLogs(BaseModel):
    """`data` read from `offset`; ask again from `next_offset`; `eof` once it exited and all
    was read."""

    stream: Literal["stdout", "stderr"]
    offset: int
    next_offset: int
    data: str
    eof: bool


class ProcessSignal(BaseModel):
    signal: str = Field(default="TERM", pattern=r"^(SIG)?[A-Z0-9]+$")


class TerminalInput(BaseModel):
    """A text frame sent to the terminal: keystrokes, or a new window size."""

    type: Literal["input", "resize"]
    data: str = ""
    cols: int | None = Field(default=None, ge=1, le=1000)
    rows: int | None = Field(default=None, ge=1, le=1000)


class BrowserRun(BaseModel):
    """One `agent-browser` command, without the `agent-browser` prefix (shlex-split, no shell)."""

    cmd: str = Field(min_length=1)
    timeout: float = Field(default=30, gt=0, le=600)


class BrowserBatchRun(BaseModel):
    """Commands run in order; each step gets what is left of `timeout`."""

    commands: list[str] = Field(min_length=1)
    timeout: float = Field(default=60, gt=0, le=600)
    stop_on_error: bool = True


class BrowserStep(BaseModel):
    """What one browser command did; exit_code -1 with `timed_out` when it ran past its time."""

    cmd: str
    stdout: str
    stderr: str
    exit_code: int
    step_index: int = 0
    duration_ms: int
    timed_out: bool = False


class BrowserClosed(BaseModel):
    """Whether a browser was running (and is closed now)."""

    closed: bool


class BrowserBatch(BaseModel):
    """A batch's steps: `completed_steps` counts the failing step that stopped it."""

    results: list[BrowserStep]
    total_steps: int
    completed_steps: int
    success: bool = Field(description="every command ran and exited 0")
    duration_ms: int
