"""The MCP server's settings, read once from the environment (contract §6.1)."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, cast

MIB = 1024 * 1024
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LOG_LEVELS = frozenset({"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})


@dataclass(frozen=True)
class Settings:
    """Where Bay is, how to sign in, and the limits on what tools accept and answer."""

    endpoint: str | None = None
    token: str | None = None
    default_profile: str = "python-default"
    default_ttl: int = 3600
    max_text_chars: int = 12_000
    max_write_bytes: int = 5 * MIB
    max_transfer_bytes: int = 50 * MIB
    call_timeout: float = 600.0
    sandbox_cache_size: int = 256
    # Not INFO: httpx logs every request at INFO, which lands on a stdio host's stderr.
    log_level: LogLevel = "WARNING"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Settings":
        """Upstream's variable names; `BAY_ENDPOINT` and `BAY_TOKEN` are accepted too."""
        defaults = cls()
        return cls(
            endpoint=env.get("SHIPYARD_ENDPOINT_URL") or env.get("BAY_ENDPOINT"),
            token=env.get("SHIPYARD_ACCESS_TOKEN") or env.get("BAY_TOKEN"),
            default_profile=env.get("SHIPYARD_DEFAULT_PROFILE", defaults.default_profile),
            default_ttl=int(env.get("SHIPYARD_DEFAULT_TTL", defaults.default_ttl)),
            max_text_chars=int(env.get("SHIPYARD_MAX_TOOL_TEXT_CHARS", defaults.max_text_chars)),
            max_write_bytes=int(env.get("SHIPYARD_MAX_WRITE_FILE_BYTES", defaults.max_write_bytes)),
            max_transfer_bytes=int(
                env.get("SHIPYARD_MAX_TRANSFER_FILE_BYTES", defaults.max_transfer_bytes)
            ),
            call_timeout=float(env.get("SHIPYARD_SDK_CALL_TIMEOUT", defaults.call_timeout)),
            sandbox_cache_size=_positive(
                env.get("SHIPYARD_SANDBOX_CACHE_SIZE"), defaults.sandbox_cache_size
            ),
            log_level=_log_level(env.get("SHIPYARD_MCP_LOG_LEVEL"), defaults.log_level),
        )


def _positive(value: str | None, default: int) -> int:
    """Upstream's rule for the cache size: anything but a positive integer means the default."""
    try:
        number = int(value or "")
    except ValueError:
        return default
    return number if number > 0 else default


def _log_level(value: str | None, default: LogLevel) -> LogLevel:
    level = (value or "").upper()
    return cast("LogLevel", level) if level in LOG_LEVELS else default
