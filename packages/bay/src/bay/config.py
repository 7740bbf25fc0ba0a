"""Bay settings: env (BAY_*, `__` for nesting) > YAML file (BAY_CONFIG_FILE) > defaults."""

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from shipyard_protocol.api import NetworkPolicy, NetworkSetting


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8114
    public_url: str | None = Field(
        default=None,
        description="the URL clients reach Bay at, for the port links it signs "
        "(behind a reverse proxy); default: each request's own base URL",
    )


class DatabaseSettings(BaseModel):
    url: str | None = Field(
        default=None, description="SQLAlchemy async URL; default SQLite in the data dir"
    )
    echo: bool = False
    pool_size: int = Field(
        default=10,
        ge=1,
        description="connections each Bay keeps open; with `max_overflow`, what every replica "
        "may hold at once must fit PostgreSQL's max_connections",
    )
    max_overflow: int = Field(default=30, ge=0, description="connections opened past the pool")


class ReplicaSettings(BaseModel):
    """Several Bays on one PostgreSQL database: each renews a lease that says it is alive."""

    lease_seconds: float = Field(
        default=30.0,
        gt=0,
        description="a replica silent this long counts as gone: another then reaps its dead "
        "sessions and takes over its unanswered idempotency claims (renewed every third of it)",
    )


class EgressSettings(BaseModel):
    """Where sandboxes with a network policy reach out from: each has a proxy on this host."""

    namespace: str | None = Field(
        default=None,
        description="run every sandbox's egress proxy in this `ip netns` namespace (with its "
        "/etc/netns files: resolv.conf, hosts); unset: the host's own network",
    )


class LocalDriverSettings(BaseModel):
    """The bubblewrap driver: sessions are namespaced processes on this host."""

    bwrap: str = "bwrap"
    rootfs: Path | None = Field(
        default=None,
        description="the sandbox environment's root filesystem (`make rootfs` builds it, "
        "`make run` sets it); null: sandboxes run over the host's /usr (Bay warns)",
    )
    ship_venv: Path | None = Field(
        default=None,
        description="without rootfs only: venv holding Ship (protocol + ship); default: the "
        "venv Bay runs from",
    )
    host_uid: int = Field(
        default=64000,
        description="owner of cargo files on the host; the uid sandboxes run as when Bay runs "
        "as root but the host has no idmapped mounts",
    )
    uid_start: int = Field(
        default=1_000_000_000,
        description="first host uid of the range whose ids sandboxes run as, one per session "
        "(Bay refuses a range holding a user, a group or a subordinate id)",
    )
    uid_count: int = Field(default=65536, gt=0, description="size of that range")
    uid_claims: Path = Field(
        default=Path("/run/shipyard/uids"),
        description="host-wide directory where sessions claim their uids, shared by every Bay",
    )
    socket_dir: Path = Field(
        default=Path("/run/shipyard/sockets"),
        description="root Bay only: where each session's socket dir (bound at /run/ship) "
        "lives, outside the data dir, whose path the sandbox would otherwise see",
    )
    cgroup_name: str = Field(default="shipyard", description="cgroup parent of every session")
    start_timeout_s: float = 30.0
    tmp_size_mb: int = Field(
        default=512,
        gt=0,
        description="size of each sandbox tmpfs (/tmp and /dev/shm), at most half its memory",
    )
    egress: EgressSettings = Field(default_factory=EgressSettings)


class DockerDriverSettings(BaseModel):
    """The Docker driver: one hardened container per session on a dockerd."""

    url: str = Field(default="unix:///var/run/docker.sock", description="dockerd's API address")
    start_timeout_s: float = 60.0
    tmp_size_mb: int = Field(
        default=512,
        gt=0,
        description="size of each container's /tmp and /dev/shm, at most half its memory",
    )
    run_dir: Path = Field(
        default=Path("/run/shipyard/docker"),
        description="each session's run dir (Ship's socket, its ready file), bound at /run/ship: "
        "outside the data dir, whose path the container would otherwise see in its mountinfo",
    )
    endpoint: Literal["socket", "container_ip"] = Field(
        default="socket",
        description="how Bay reaches Ship: a Unix socket in a bind-mounted run dir, or TCP at "
        "the container's IP on a Bay-made network, with a per-session token",
    )
    network: str = Field(
        default="shipyard-sandboxes",
        description="container_ip: internal bridge (no egress, no inter-container traffic)",
    )
    egress: EgressSettings = Field(default_factory=EgressSettings)
    ready: Literal["auto", "file", "health"] = Field(
        default="auto",
        description="container_ip: how Bay learns Ship listens: a ready file in the bind-mounted "
        "run dir, or polling /health (an engine on another host); auto: file when `url` is a "
        "Unix socket",
    )


class ResourceSettings(BaseModel):
    cpus: float = 1.0
    memory: str = "1g"
    pids: int = 512


# A dotted module name as `import` takes it: Ship joins the names with commas.
ModuleName = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
]


RUNTIME_TYPES = ("ship", "browser")


class ContainerSettings(BaseModel):
    """One runtime of a profile with several: Ship, or the browser (Chromium) beside it."""

    name: str
    runtime_type: str = Field(default="ship", description="ship or browser")
    capabilities: list[str] = Field(default_factory=list)
    primary_for: list[str] = Field(
        default_factory=list, description="capabilities routed here before any other runtime"
    )
    resources: ResourceSettings = Field(default_factory=ResourceSettings)
    env: dict[str, str] = Field(default_factory=dict)

    @field_validator("runtime_type")
    @classmethod
    def _known_runtime(cls, value: str) -> str:
        if value not in RUNTIME_TYPES:
            raise ValueError(
                f"runtime_type {value!r} is not one this Bay runs: use ship, or browser for "
                "the browser runtime (upstream's gull)"
            )
        return value


class ProfileSettings(BaseModel):
    """A named recipe for sandboxes: runtime, limits, capabilities, env."""

    id: str
    description: str | None = None
    image: str = "shipyard/ship:latest"
    runtime: str | None = None
    resources: ResourceSettings = Field(default_factory=ResourceSettings)
    capabilities: list[str] = Field(default_factory=lambda: ["filesystem", "shell", "python"])
    idle_timeout: int = 1800
    env: dict[str, str] = Field(default_factory=dict)
    network: NetworkSetting = Field(
        default_factory=NetworkPolicy,
        description="the most a sandbox may reach: none, internet, or {egress: allow, allow: "
        "[domains, CIDRs], deny: [...]}; a create may narrow it (true/false: internet/none)",
    )
    network_bandwidth_mbit: float | None = Field(
        default=None, gt=0, description="cap on each direction of a sandbox's traffic"
    )
    warm_pool_size: int = Field(
        default=0, ge=0, description="ready sandboxes kept for creates without a cargo"
    )
    warm_rotate_ttl: int = Field(
        default=1800, gt=0, description="seconds an unclaimed warm sandbox lives before renewal"
    )
    preload: list[ModuleName] = Field(
        default_factory=list,
        description="modules the Python kernel imports when it starts (warm pools start it early)",
    )
    containers: list[ContainerSettings] | None = Field(
        default=None,
        description="runtimes of a sandbox (a ship and a browser); without an explicit "
        "`capabilities`, the profile offers the union of theirs",
    )
    browser: str | None = Field(
        default=None,
        description="isolated: a browser in each sandbox (as a browser container does); "
        "null: only if a container offers one",
    )

    @field_validator("browser")
    @classmethod
    def _browser_mode(cls, value: str | None) -> str | None:
        if value == "shared":
            raise ValueError(
                "browser: shared needs a global browser service, which this Bay does not "
                "have; use isolated (a browser inside each sandbox) or a browser container"
            )
        if value not in (None, "isolated"):
            raise ValueError(f"browser must be null or isolated, not {value!r}")
        return value

    @model_validator(mode="after")
    def _runtimes(self) -> "ProfileSettings":
        if not self.containers:
            return self
        names = [container.name for container in self.containers]
        if len(set(names)) != len(names):
            raise ValueError(f"profile {self.id}: container names repeat: {names}")
        kinds = [container.runtime_type for container in self.containers]
        if "ship" not in kinds or kinds.count("browser") > 1:
            raise ValueError(
                f"profile {self.id}: containers need one ship and at most one browser: {kinds}"
            )
        return self


def _default_profiles() -> list[ProfileSettings]:
    return [
        ProfileSettings(id="python-default", description="Python and shell, no network"),
        ProfileSettings(
            id="python-data",
            description="More memory and CPU for data work",
            resources=ResourceSettings(cpus=2.0, memory="4g"),
            preload=["numpy", "pandas", "matplotlib.pyplot"],
        ),
        ProfileSettings(
            id="browser-python",
            description="Python, shell, files and a headless browser, no network",
            containers=[
                ContainerSettings(
                    name="ship",
                    capabilities=["filesystem", "shell", "python"],
                    primary_for=["filesystem", "shell", "python"],
                ),
                ContainerSettings(
                    name="browser",
                    runtime_type="browser",
                    capabilities=["browser"],
                    resources=ResourceSettings(cpus=1.0, memory="2g"),
                ),
            ],
        ),
        ProfileSettings(
            id="python-gvisor",
            description="Python and shell in gVisor (docker driver with runsc registered)",
            runtime="runsc",
        ),
    ]


class SecuritySettings(BaseModel):
    api_key: str | None = Field(default=None, description="admin key to seed; BAY_API_KEY")
    allow_anonymous: bool = Field(
        default=False, description="development only: no token means owner from X-Owner"
    )
    key_cache_seconds: float = Field(
        default=2.0,
        ge=0,
        description="trust a key seen this recently without reading the key table (0: never); "
        "a revocation elsewhere than this Bay's admin API (another replica, `bay keys "
        "revoke`) takes this long to reach this Bay",
    )
    ship_secret: SecretStr | None = Field(
        default=None,
        description="key for Ship's per-session tokens (docker container_ip) and port links; "
        "default: a random one kept in <data_dir>/ship-secret",
    )


class CargoSettings(BaseModel):
    default_size_limit_mb: int = 1024


class ShipSettings(BaseModel):
    output_limit_bytes: int = Field(default=1024 * 1024, description="per stream per exec")
    orphan_grace_seconds: float | None = Field(
        default=600,
        gt=0,
        description="a session ends itself once no Bay has spoken to it for its profile's idle "
        "timeout plus this long (Bay speaks to each every quarter of this); null: never",
    )


class LimitsSettings(BaseModel):
    """Bounds on what one request may make Bay hold."""

    max_body_bytes: int = Field(
        default=32 * 1024 * 1024,
        gt=0,
        description="request bodies past this are 413 (uploads are bounded by the cargo instead)",
    )
    max_code_bytes: int = Field(
        default=1024 * 1024, gt=0, description="python code or shell command, UTF-8 bytes"
    )


class HistorySettings(BaseModel):
    """What execution history keeps: long fields are cut to head and tail, old rows go."""

    max_field_bytes: int = Field(
        default=64 * 1024, ge=1024, description="stored code, output and error, each"
    )
    max_rows_per_sandbox: int | None = Field(
        default=1000, ge=1, description="the GC task keeps this many newest rows per sandbox"
    )
    max_age_days: float | None = Field(
        default=None, gt=0, description="the GC task deletes older rows (null: any age)"
    )


class StreamingSettings(BaseModel):
    heartbeat_seconds: float = Field(
        default=15.0, gt=0, description="a quiet event stream gets a comment this often"
    )


class IdempotencySettings(BaseModel):
    enabled: bool = True
    ttl_hours: float = 1.0
    abandon_after_s: float = Field(
        default=300.0, description="an unanswered claim this old belongs to a crashed request"
    )
    wait_s: float = Field(default=120.0, description="how long a duplicate waits for the first")


class GcTaskSettings(BaseModel):
    enabled: bool = True


class GcSettings(BaseModel):
    enabled: bool = True
    run_on_startup: bool = True
    interval_seconds: int = 300
    orphan_grace_seconds: int = Field(
        default=120, description="cargo storage younger than this is never an orphan"
    )
    idle_session: GcTaskSettings = Field(default_factory=GcTaskSettings)
    expired_sandbox: GcTaskSettings = Field(default_factory=GcTaskSettings)
    orphan_cargo: GcTaskSettings = Field(default_factory=GcTaskSettings)
    orphan_instance: GcTaskSettings = Field(default_factory=GcTaskSettings)
    history_retention: GcTaskSettings = Field(default_factory=GcTaskSettings)


class BrowserLearningSettings(BaseModel):
    """Browser executions run with `learn` become skill candidates, evaluated and released."""

    enabled: bool = Field(default=True, description="run passes on a timer (off: on demand only)")
    run_on_startup: bool = True
    interval: float = Field(default=300, gt=0, description="seconds between passes")
    batch_size: int = Field(default=20, ge=1, description="executions one pass claims")
    score_threshold: float = Field(default=0.85, description="least evaluation score to pass")
    replay_success_threshold: float = Field(default=0.95, description="least replay success")
    min_samples: int = Field(default=30, ge=0, description="least evaluation samples")
    canary_window_hours: float = Field(
        default=24, gt=0, description="a canary healthy this long is promoted to stable"
    )
    success_drop_threshold: float = Field(
        default=0.03, ge=0, description="a release whose success rate drops more is unhealthy"
    )
    error_rate_multiplier_threshold: float = Field(
        default=2.0, gt=0, description="a release whose error rate grows more times is unhealthy"
    )


class WarmPoolSettings(BaseModel):
    """Pre-started sandboxes per profile (`warm_pool_size`); this switch turns them all off."""

    enabled: bool = True
    background: bool = Field(
        default=True, description="refill on a timer and after each claim (off: tests refill)"
    )
    interval_seconds: float = Field(default=30.0, gt=0)
    refill_delay_seconds: float = Field(
        default=0.5, ge=0, description="after claims, refill once none came for this long"
    )
    refill_concurrency: int = Field(default=2, ge=1, description="sandboxes warmed at once")
    warming_grace_seconds: int = Field(
        default=300, gt=0, description="a member warming this long belongs to a dead Bay"
    )


class LoggingSettings(BaseModel):
    """Bay's log lines: one JSON object each, or coloured text for a terminal."""

    format: Literal["json", "console"] = Field(
        default="console", description="json for a log collector; console for people"
    )
    level: Literal["debug", "info", "warning", "error"] = "info"


class MetricsSettings(BaseModel):
    """Prometheus `/metrics`: on Bay's port behind a bearer token, or on a listener of its own."""

    enabled: bool = True
    token: SecretStr | None = Field(
        default=None,
        description="the bearer token a scraper sends to /metrics on Bay's port (an admin API "
        "key works too)",
    )
    listen: str | None = Field(
        default=None,
        pattern=r"^[^:]+:\d+$",
        description="host:port of a separate listener that serves /metrics without a token "
        "(Bay's own port then has none)",
    )


class DriverSettings(BaseModel):
    type: Literal["local", "docker", "fake"] = "local"
    local: LocalDriverSettings = Field(default_factory=LocalDriverSettings)
    docker: DockerDriverSettings = Field(default_factory=DockerDriverSettings)


def _default_data_dir() -> Path:
    return Path(os.environ.get("BAY_DATA_DIR", "./.bay")).absolute()


class Settings(BaseSettings):
    """Everything Bay reads at startup; build once and pass sections down."""

    model_config = SettingsConfigDict(
        env_prefix="BAY_", env_nested_delimiter="__", case_sensitive=False, extra="ignore"
    )

    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="database, credentials, cargos and session run dirs; default `./.bay`",
    )
    server: ServerSettings = Field(default_factory=ServerSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    replicas: ReplicaSettings = Field(default_factory=ReplicaSettings)
    driver: DriverSettings = Field(default_factory=DriverSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    cargo: CargoSettings = Field(default_factory=CargoSettings)
    ship: ShipSettings = Field(default_factory=ShipSettings)
    idempotency: IdempotencySettings = Field(default_factory=IdempotencySettings)
    gc: GcSettings = Field(default_factory=GcSettings)
    warm_pool: WarmPoolSettings = Field(default_factory=WarmPoolSettings)
    browser_learning: BrowserLearningSettings = Field(default_factory=BrowserLearningSettings)
    browser_auto_release_enabled: bool = Field(
        default=True,
        description="the kill switch of learned releases: off, browser learning still makes "
        "candidates but promotes none (a regressed canary is still rolled back)",
    )
    streaming: StreamingSettings = Field(default_factory=StreamingSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    history: HistorySettings = Field(default_factory=HistorySettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    profiles: list[ProfileSettings] = Field(default_factory=_default_profiles)
    api_key: str | None = Field(default=None, description="BAY_API_KEY: the admin key to seed")
    instance_id: str = Field(
        default_factory=lambda: os.environ.get("HOSTNAME") or "bay",
        description="this Bay's name among Bays sharing a database; default: $HOSTNAME, or bay",
    )

    @property
    def admin_key(self) -> str | None:
        return self.api_key or self.security.api_key

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite+aiosqlite:///{self.data_dir / 'bay.db'}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = os.environ.get("BAY_CONFIG_FILE")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if config_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)
