"""Settings from upstream's environment variables, and bounded text."""

from shipyard_mcp.config import Settings
from shipyard_mcp.text import truncate


def test_upstream_names_are_read() -> None:
    env = {
        "SHIPYARD_ENDPOINT_URL": "http://bay:1",
        "SHIPYARD_ACCESS_TOKEN": "t",
        "SHIPYARD_DEFAULT_PROFILE": "p",
        "SHIPYARD_DEFAULT_TTL": "0",
        "SHIPYARD_MAX_TOOL_TEXT_CHARS": "10",
        "SHIPYARD_MAX_WRITE_FILE_BYTES": "20",
        "SHIPYARD_MAX_TRANSFER_FILE_BYTES": "30",
        "SHIPYARD_SDK_CALL_TIMEOUT": "5",
        "SHIPYARD_SANDBOX_CACHE_SIZE": "40",
    }
    expected = Settings("http://bay:1", "t", "p", 0, 10, 20, 30, 5.0, sandbox_cache_size=40)
    assert Settings.from_env(env) == expected


def test_bay_names_are_the_fallback() -> None:
    settings = Settings.from_env({"BAY_ENDPOINT": "http://bay:2", "BAY_TOKEN": "b"})
    assert (settings.endpoint, settings.token, settings.default_ttl) == ("http://bay:2", "b", 3600)


def test_truncate_keeps_head_and_tail() -> None:
    cut = truncate("a" * 50 + "b" * 50, 20)
    assert cut == "a" * 10 + "\n...[truncated 80 chars]...\n" + "b" * 10
    assert truncate("short", 20) == "short"


class TestSandboxCacheSize:
    def test_is_read(self) -> None:
        assert Settings.from_env({"SHIPYARD_SANDBOX_CACHE_SIZE": "8"}).sandbox_cache_size == 8

    def test_anything_but_a_positive_integer_means_256_as_upstream(self) -> None:
        for value in ("0", "-3", "many", ""):
            env = {"SHIPYARD_SANDBOX_CACHE_SIZE": value}
            assert Settings.from_env(env).sandbox_cache_size == 256


class TestLogLevel:
    def test_is_warning_by_default(self) -> None:
        assert Settings.from_env({}).log_level == "WARNING"

    def test_can_be_raised_for_debugging(self) -> None:
        assert Settings.from_env({"SHIPYARD_MCP_LOG_LEVEL": "info"}).log_level == "INFO"
        assert Settings.from_env({"SHIPYARD_MCP_LOG_LEVEL": "loud"}).log_level == "WARNING"
