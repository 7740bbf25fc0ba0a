"""Bay's public API v1 models (bay-api-v1.md), shared by Bay and the SDK.

Timestamps are UTC, written as RFC 3339 with `Z` (`Timestamp`); Bay holds them naive.
"""

import ipaddress
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

MAX_SECONDS = 10 * 365 * 24 * 3600  # ten years: longer is a mistake, and overflows datetimes
MAX_INT64 = 2**63 - 1  # the widest integer a database column or query parameter holds
# The longest path Linux accepts (PATH_MAX, with its NUL) and the longest name in it.
MAX_PATH_BYTES = 4095
MAX_NAME_BYTES = 255


def _utf8(value: str) -> str:
    """JSON can carry lone surrogates (`"\\ud800"`); nothing downstream can encode them."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("text must be valid Unicode (a lone surrogate is not)") from exc
    return value


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError(
            "must not contain NUL bytes: no process argument or environment can hold one"
        )
    return value


def rfc3339(value: datetime) -> str:
    """`value` in UTC as RFC 3339 with `Z`; a naive datetime is taken to be UTC already."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds") + "Z"


Timestamp = Annotated[
    datetime,
    PlainSerializer(rfc3339, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""A UTC instant; JSON carries it as RFC 3339 with `Z` (`2026-12-07T01:35:14.621641Z`)."""

Text = Annotated[str, AfterValidator(_utf8)]
"""A string from a request body: valid Unicode, so it can be stored and sent on."""

Command = Annotated[Text, AfterValidator(_no_nul)]
"""A shell command line or environment entry: no NUL byte."""


class SandboxStatus(StrEnum):
    """The computed, user-visible status of a sandbox (contract §2.1)."""

    IDLE = "idle"
    STARTING = "starting"
    READY = "ready"
    FAILED = "failed"
    EXPIRED = "expired"


class Health(BaseModel):
    """`GET /health`."""

    status: str = "ok"
    version: str


class ReadinessCheck(BaseModel):
    """One thing Bay needs to serve: whether it holds, and why not."""

    ok: bool
    error: str | None = None


class Readiness(BaseModel):
    """`GET /ready`: 200 when every check holds, else 503 with the same body.

    Checks: `database` (a query answers), `migrations` (the schema is at the newest revision),
    `driver` (the sandbox engine answers).
    """

    status: Literal["ready", "unready"]
    version: str
    checks: dict[str, ReadinessCheck]


class StatusOk(BaseModel):
    """`{"status": "ok"}` and its relatives (`stopped`)."""

    status: str = "ok"


class ContainerRuntime(BaseModel):
    """One runtime of a ready session, as shown by `GET /v1/sandboxes/{id}`."""

    name: str
    runtime_type: str
    status: str
    version: str | None
    capabilities: list[str]
    healthy: bool | None


_LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
_DOMAIN = re.compile(rf"^(\*\.)?({_LABEL}\.)*{_LABEL}$")
MAX_NETWORK_ENTRIES = 256


def _destination(entry: str) -> str:
    """A domain name (`*.` wildcard allowed, lowercased) or a CIDR / single address."""
    entry = entry.strip().lower().rstrip(".")
    try:
        return str(ipaddress.ip_network(entry, strict=False))
    except ValueError:
        pass
    if len(entry) > 253 or not _DOMAIN.fullmatch(entry):
        raise ValueError(f"{entry!r} is neither a domain name (`*.` wildcards) nor a CIDR")
    return entry


Destination = Annotated[str, AfterValidator(_destination)]


def _shorthand(value: Any) -> Any:
    """`"none"`, `"internet"` (and `true`/`false`) stand for `{"egress": ...}`."""
    if isinstance(value, bool):
        return {"egress": "internet" if value else "none"}
    if isinstance(value, str):
        return {"egress": value}
    return value


class NetworkPolicy(BaseModel):
    """Where a sandbox may connect out. `none`: nowhere; `internet`: anywhere but the
    always-denied ranges (host, private, link-local, CGNAT, multicast, other sandboxes);
    `allow`: only the `allow` list's domains and CIDRs. `deny` wins over both."""

    model_config = ConfigDict(extra="forbid")

    egress: Literal["none", "internet", "allow"] = "none"
    allow: list[Destination] = Field(default_factory=list, max_length=MAX_NETWORK_ENTRIES)
    deny: list[Destination] = Field(default_factory=list, max_length=MAX_NETWORK_ENTRIES)


NetworkSetting = Annotated[NetworkPolicy, BeforeValidator(_shorthand)]
"""A network policy as requests and configuration write it: an object, or its shorthand."""


class SandboxNetwork(NetworkPolicy):
    """A sandbox's network policy and its traffic since its session started (0 when none
    runs). `bandwidth_mbit`: the profile's cap on each direction, null for none."""

    model_config = ConfigDict(extra="ignore")

    bandwidth_mbit: float | None = None
    bytes_in: int = 0
    bytes_out: int = 0


MAX_METADATA_ENTRIES = 32
MAX_METADATA_VALUE = 512
MAX_ENV_ENTRIES = 128
MAX_ENV_BYTES = 64 * 1024
_METADATA_KEY = re.compile(r"^[A-Za-z0-9_.:/-]{1,64}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
RESERVED_ENV_PREFIXES = ("SHIP_", "SHIPYARD_")


def _metadata(value: dict[str, str]) -> dict[str, str]:
    if len(value) > MAX_METADATA_ENTRIES:
        raise ValueError(f"at most {MAX_METADATA_ENTRIES} metadata entries")
    for key, item in value.items():
        if not _METADATA_KEY.fullmatch(key):
            raise ValueError(f"metadata key {key!r}: 1-64 of letters, digits and _ . : / -")
        if len(item) > MAX_METADATA_VALUE:
            raise ValueError(f"metadata value of {key!r}: at most {MAX_METADATA_VALUE} characters")
    return value


def _env(value: dict[str, str]) -> dict[str, str]:
    if len(value) > MAX_ENV_ENTRIES:
        raise ValueError(f"at most {MAX_ENV_ENTRIES} environment variables")
    for name in value:
        if not _ENV_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not an environment variable name")
        if name.startswith(RESERVED_ENV_PREFIXES):
            raise ValueError(
                f"{name!r}: names starting {' or '.join(RESERVED_ENV_PREFIXES)} are Shipyard's"
            )
    if sum(len(k) + len(v.encode()) for k, v in value.items()) > MAX_ENV_BYTES:
        raise ValueError(f"the environment is over {MAX_ENV_BYTES} bytes")
    return value


Metadata = Annotated[dict[str, Text], AfterValidator(_metadata)]
"""Labels a caller puts on a sandbox: bounded, returned on every read, filterable on list."""

EnvVars = Annotated[dict[str, Command], AfterValidator(_env)]
"""Environment variables for a sandbox's shell, kernel, processes and terminal."""


class Sandbox(BaseModel):
    """A sandbox as every sandbox endpoint returns it; all keys always present."""

    id: str
    status: SandboxStatus
    profile: str
    cargo_id: str | None
    capabilities: list[str]
    created_at: Timestamp
    expires_at: Timestamp | None
    idle_expires_at: Timestamp | None
    containers: list[ContainerRuntime] | None = None
    network: SandboxNetwork | None = None
    metadata: dict[str, str] = Field(default_factory=dict)


class SandboxCreate(BaseModel):
    """`POST /v1/sandboxes` body; `ttl` null or ≤ 0 means no expiry; `network` narrows the
    profile's policy (null: the profile's own)."""

    profile: Text = "python-default"
    cargo_id: Text | None = None
    ttl: int | None = Field(default=None, le=MAX_SECONDS)
    network: NetworkSetting | None = None
    metadata: Metadata | None = None
    env: EnvVars | None = Field(
        default=None,
        description="merged over the profile's env; never shown back (it may hold secrets)",
    )


class SandboxList(BaseModel):
    """A page of sandboxes; `next_cursor` is the last id when more exist."""

    items: list[Sandbox]
    next_cursor: str | None = None


class TTLExtend(BaseModel):
    """`POST /v1/sandboxes/{id}/extend_ttl` body."""

    extend_by: int = Field(le=MAX_SECONDS)


class PythonExec(BaseModel):
    """`POST /v1/sandboxes/{id}/python/exec` body."""

    code: Text
    timeout: int = Field(default=30, ge=1, le=300)
    include_code: bool = False
    description: Text | None = None
    tags: Text | None = None


class PythonExecData(BaseModel):
    """Upstream's `data` block: execution count and the rich output.

    `output` is `{"text", "images": [bundle with an image/* key], "outputs": [other rich
    bundles: text/html, application/json, ...]}`; `outputs` is absent when there are none.
    Each bundle appears once (an image is never repeated in `outputs`).
    """

    execution_count: int | None = None
    output: dict[str, Any] = Field(default_factory=dict)


class PythonExecResult(BaseModel):
    """A Python execution; a failing user program is `success: false`, not an error."""

    success: bool
    output: str
    error: str | None
    data: PythonExecData
    execution_id: str
    execution_time_ms: int
    code: str | None = None
    kernel_generation: int | None = None
    kernel_restarted: bool = False
    truncated: bool = False


class ShellExec(BaseModel):
    """`POST /v1/sandboxes/{id}/shell/exec` body."""

    command: Command
    timeout: int = Field(default=30, ge=1, le=300)
    cwd: Text | None = None
    include_code: bool = False
    description: Text | None = None
    tags: Text | None = None


class ShellExecResult(BaseModel):
    """The result of a shell command; `error` is Ship's error, else stderr, else null."""

    success: bool
    output: str
    error: str | None
    exit_code: int | None
    execution_id: str
    execution_time_ms: int
    command: str | None = None
    truncated: bool = False


class BrowserExec(BaseModel):
    """`POST /v1/sandboxes/{id}/browser/exec` body: one agent-browser command."""

    cmd: Command
    timeout: int = Field(default=30, ge=1, le=300)
    description: Text | None = None
    tags: Text | None = None
    learn: bool = False
    include_trace: bool = False


class BrowserExecResult(BaseModel):
    """One browser command; `error` is its stderr or null. `trace_ref` only with include_trace."""

    success: bool
    output: str
    error: str | None
    exit_code: int | None
    execution_id: str
    execution_time_ms: int
    trace_ref: str | None = None


class BrowserBatchExec(BaseModel):
    """`POST /v1/sandboxes/{id}/browser/exec_batch` body."""

    commands: list[Command] = Field(min_length=1)
    timeout: int = Field(default=60, ge=1, le=600)
    stop_on_error: bool = True
    description: Text | None = None
    tags: Text | None = None
    learn: bool = False
    include_trace: bool = False


class BrowserStepResult(BaseModel):
    """One step of a batch."""

    cmd: str
    stdout: str
    stderr: str
    exit_code: int
    step_index: int
    duration_ms: int


class BrowserBatchResult(BaseModel):
    """A batch; `completed_steps` counts the failing step that stopped it."""

    results: list[BrowserStepResult]
    total_steps: int
    completed_steps: int
    success: bool
    duration_ms: int
    execution_id: str
    execution_time_ms: int
    trace_ref: str | None = None


class SkillRun(BaseModel):
    """`POST /v1/sandboxes/{id}/browser/skills/{skill_key}/run` body."""

    timeout: int = Field(default=60, ge=1, le=600)
    stop_on_error: bool = True
    include_trace: bool = False
    description: Text | None = None
    tags: Text | None = None


class SkillRunResult(BrowserBatchResult):
    """A replayed skill release: the batch, plus which release ran."""

    skill_key: str
    release_id: str


class BrowserTrace(BaseModel):
    """`GET /v1/sandboxes/{id}/browser/traces/{trace_ref}`."""

    trace_ref: str
    trace: dict[str, Any] | list[Any]


class FileContent(BaseModel):
    """`GET …/filesystem/files` answer."""

    content: str


class FileWrite(BaseModel):
    """`PUT …/filesystem/files` body."""

    path: Text
    content: Text


class FileInfo(BaseModel):
    """One entry of `GET …/filesystem/directories` (upstream Ship's raw FileInfo)."""

    name: str
    path: str
    is_file: bool
    is_dir: bool
    size: int | None
    modified_time: float


class DirectoryList(BaseModel):
    """`GET …/filesystem/directories` answer."""

    entries: list[FileInfo]


class UploadResult(BaseModel):
    """`POST …/filesystem/upload` answer."""

    status: str = "ok"
    path: str
    size: int


class Resources(BaseModel):
    """A profile's compute resources."""

    cpus: float = 1.0
    memory: str = "1g"


class ProfileContainer(BaseModel):
    """A container of a profile, shown with `detail=true`."""

    name: str
    runtime_type: str
    capabilities: list[str]
    resources: Resources


class Profile(BaseModel):
    """One entry of `GET /v1/profiles`; `description`, `containers`, `preload`, `network` and
    `warm_pool_size` are null unless `detail=true`."""

    id: str
    image: str
    resources: Resources
    capabilities: list[str]
    idle_timeout: int
    description: str | None = None
    containers: list[ProfileContainer] | None = None
    preload: list[str] | None = Field(
        default=None, description="modules the Python kernel imports when it starts"
    )
    network: NetworkPolicy | None = Field(
        default=None, description="the most a sandbox of this profile may reach"
    )
    warm_pool_size: int | None = Field(
        default=None, description="ready sandboxes Bay keeps for creates without a cargo"
    )


class ProfileList(BaseModel):
    """`GET /v1/profiles` answer."""

    items: list[Profile]


class Cargo(BaseModel):
    """A persistent workspace volume."""

    id: str
    managed: bool
    managed_by_sandbox_id: str | None
    backend: Literal["docker_volume"] = "docker_volume"
    size_limit_mb: int
    created_at: Timestamp
    last_accessed_at: Timestamp


class CargoCreate(BaseModel):
    """`POST /v1/cargos` body (the body itself may be absent)."""

    size_limit_mb: int | None = Field(default=None, ge=1, le=65536)


class CargoList(BaseModel):
    """A page of cargos."""

    items: list[Cargo]
    next_cursor: str | None = None


class ExecutionEntry(BaseModel):
    """One execution history entry."""

    id: str
    session_id: str | None
    exec_type: str
    code: str
    success: bool
    execution_time_ms: int
    output: str | None
    error: str | None
    payload_ref: str | None = None
    description: str | None
    tags: str | None
    notes: str | None
    learn_enabled: bool = False
    learn_status: str | None = None
    learn_error: str | None = None
    learn_processed_at: Timestamp | None = None
    created_at: Timestamp
    status: Literal["running", "finished"] = Field(
        default="finished",
        description="running: Bay has not recorded the outcome yet (or stopped before it did)",
    )


class ExecutionList(BaseModel):
    """A page of history, newest first."""

    entries: list[ExecutionEntry]
    total: int


class ExecutionUpdate(BaseModel):
    """`PATCH …/history/{execution_id}`: only the fields given are changed."""

    description: Text | None = None
    tags: Text | None = None
    notes: Text | None = None


class GcRun(BaseModel):
    """`POST /v1/admin/gc/run` body; null tasks means all enabled tasks."""

    tasks: list[Text] | None = None


class GcTaskResult(BaseModel):
    task_name: str
    cleaned_count: int = 0
    skipped_count: int = 0
    errors: list[str] = Field(default_factory=list)


class GcRunResult(BaseModel):
    results: list[GcTaskResult]
    total_cleaned: int
    total_errors: int
    duration_ms: int


class BrowserLearningResult(BaseModel):
    """What one browser learning pass did (`POST /v1/admin/browser-learning/run`)."""

    claimed: int = Field(default=0, description="executions this pass took to learn from")
    processed: int = Field(default=0, description="executions that gave at least one segment")
    skipped: int = Field(default=0, description="executions with nothing to learn (learn_error)")
    errors: int = Field(default=0, description="executions whose learning failed (learn_error)")
    candidates: int = Field(default=0, description="skill candidates made")
    canaries: int = Field(default=0, description="candidates released as canaries")
    promoted: int = Field(default=0, description="canaries promoted to stable")
    rolled_back: int = Field(default=0, description="canaries rolled back as regressed")
    duration_ms: int = 0


class GcTaskStatus(BaseModel):
    enabled: bool


class WarmPoolProfileStatus(BaseModel):
    """One profile's pool: the depth it keeps and what it holds now."""

    size: int
    available: int
    warming: int


class WarmPoolStatus(BaseModel):
    """The warm pool; `hits` and `misses` count this Bay's creates since it started."""

    enabled: bool
    hits: int
    misses: int
    profiles: dict[str, WarmPoolProfileStatus]


class GcStatus(BaseModel):
    enabled: bool
    is_running: bool
    instance_id: str
    interval_seconds: int
    tasks: dict[str, GcTaskStatus]
    warm_pool: WarmPoolStatus | None = None


class KeyCreate(BaseModel):
    """`POST /v1/admin/keys` body."""

    owner: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.@-]+$")
    admin: bool = False


class KeyInfo(BaseModel):
    """An API key as listed; the secret itself is never shown again."""

    id: str
    owner: str
    key_prefix: str
    is_admin: bool
    is_active: bool
    created_at: Timestamp
    deactivated_at: Timestamp | None = None


class KeyCreated(BaseModel):
    """The one answer that carries the secret."""

    id: str
    owner: str
    api_key: str
    is_admin: bool = False


class KeyList(BaseModel):
    items: list[KeyInfo]


class ExecutionStatus(BaseModel):
    """`GET /v1/sandboxes/{id}/executions/{execution_id}`: how an execution stands or ended."""

    execution_id: str
    exec_type: str
    status: Literal["running", "finished"]
    success: bool | None = None
    exit_code: int | None = None
    last_event_id: int | None = Field(
        default=None, description="the newest event's id, while the session still holds them"
    )
    execution_time_ms: int | None = None


class KernelControl(BaseModel):
    """The kernel after an interrupt or a restart."""

    kernel_generation: int
    restarted: bool


class ProcessCreate(BaseModel):
    """`POST /v1/sandboxes/{id}/processes`: start a detached command."""

    command: Command = Field(min_length=1)
    cwd: Text | None = None
    env: dict[Command, Command] = Field(default_factory=dict)


class ProcessSignalRequest(BaseModel):
    """`POST …/processes/{process_id}/signal`."""

    signal: str = Field(default="TERM", pattern=r"^(SIG)?[A-Z0-9]+$")


MAX_PORT_URL_SECONDS = 7 * 24 * 3600
PORT_TOKEN_PARAM = "shipyard_token"  # noqa: S105 - a query parameter's name, not a secret


class PortUrlCreate(BaseModel):
    """`POST /v1/sandboxes/{id}/ports/{port}/url`: how long the link opens the port."""

    expires_in: int = Field(default=3600, ge=1, le=MAX_PORT_URL_SECONDS)


class PortUrl(BaseModel):
    """A link to a sandbox port that needs no API key until `expires_at`.

    The token rides in the `shipyard_token` query parameter; the first answer also sets it
    as a cookie scoped to the port's path, so a browser's later requests carry it.
    """

    url: str
    expires_at: Timestamp
