"""Tool names and arguments are upstream's (contract §6.1), so configured agents keep working;
the background-process tools, get_skill_candidate and get_skill_release_health are our
additions."""

from mcp.server.mcpserver import MCPServer

from tests.unit.mcp.conftest import IN_PACKAGE_LOOP

pytestmark = IN_PACKAGE_LOOP

UPSTREAM = {
    "create_sandbox": ({"profile", "ttl"}, set()),
    "delete_sandbox": ({"sandbox_id"}, {"sandbox_id"}),
    "execute_python": (
        {"sandbox_id", "code", "timeout", "include_code", "description", "tags"},
        {"sandbox_id", "code"},
    ),
    "execute_shell": (
        {"sandbox_id", "command", "cwd", "timeout", "include_code", "description", "tags"},
        {"sandbox_id", "command"},
    ),
    "read_file": ({"sandbox_id", "path"}, {"sandbox_id", "path"}),
    "write_file": ({"sandbox_id", "path", "content"}, {"sandbox_id", "path", "content"}),
    "list_files": ({"sandbox_id", "path"}, {"sandbox_id"}),
    "delete_file": ({"sandbox_id", "path"}, {"sandbox_id", "path"}),
    "upload_file": ({"sandbox_id", "local_path", "sandbox_path"}, {"sandbox_id", "local_path"}),
    "download_file": (
        {"sandbox_id", "sandbox_path", "local_path"},
        {"sandbox_id", "sandbox_path"},
    ),
    "get_execution_history": (
        {
            "sandbox_id",
            "exec_type",
            "success_only",
            "limit",
            "tags",
            "has_notes",
            "has_description",
        },
        {"sandbox_id"},
    ),
    "get_execution": ({"sandbox_id", "execution_id"}, {"sandbox_id", "execution_id"}),
    "get_last_execution": ({"sandbox_id", "exec_type"}, {"sandbox_id"}),
    "annotate_execution": (
        {"sandbox_id", "execution_id", "description", "tags", "notes"},
        {"sandbox_id", "execution_id"},
    ),
    "list_profiles": (set(), set()),
    "execute_browser": (
        {"sandbox_id", "cmd", "timeout", "description", "tags", "learn", "include_trace"},
        {"sandbox_id", "cmd"},
    ),
    "execute_browser_batch": (
        {
            "sandbox_id",
            "commands",
            "timeout",
            "stop_on_error",
            "description",
            "tags",
            "learn",
            "include_trace",
        },
        {"sandbox_id", "commands"},
    ),
    "create_skill_payload": ({"payload", "kind"}, {"payload"}),
    "get_skill_payload": ({"payload_ref"}, {"payload_ref"}),
    "create_skill_candidate": (
        {
            "skill_key",
            "source_execution_ids",
            "scenario_key",
            "payload_ref",
            "summary",
            "usage_notes",
            "preconditions",
            "postconditions",
        },
        {"skill_key", "source_execution_ids"},
    ),
    "evaluate_skill_candidate": (
        {"candidate_id", "passed", "score", "benchmark_id", "report"},
        {"candidate_id", "passed"},
    ),
    "promote_skill_candidate": (
        {"candidate_id", "stage", "upgrade_of_release_id", "upgrade_reason", "change_summary"},
        {"candidate_id"},
    ),
    "list_skill_candidates": ({"status", "skill_key", "limit", "offset"}, set()),
    "list_skill_releases": ({"skill_key", "active_only", "stage", "limit", "offset"}, set()),
    "delete_skill_release": ({"release_id", "reason"}, {"release_id"}),
    "delete_skill_candidate": ({"candidate_id", "reason"}, {"candidate_id"}),
    "rollback_skill_release": ({"release_id"}, {"release_id"}),
}
ADDED = {
    "start_process": ({"sandbox_id", "command", "cwd", "env"}, {"sandbox_id", "command"}),
    "get_process_logs": (
        {"sandbox_id", "process_id", "stream", "offset"},
        {"sandbox_id", "process_id"},
    ),
    "list_processes": ({"sandbox_id"}, {"sandbox_id"}),
    "kill_process": ({"sandbox_id", "process_id", "signal"}, {"sandbox_id", "process_id"}),
    "get_port_url": ({"sandbox_id", "port", "expires_in"}, {"sandbox_id", "port"}),
    "list_sandboxes": ({"status", "limit", "cursor"}, set()),
    "get_sandbox": ({"sandbox_id"}, {"sandbox_id"}),
    "wait_process": ({"sandbox_id", "process_id", "timeout"}, {"sandbox_id", "process_id"}),
    "get_skill_candidate": ({"candidate_id"}, {"candidate_id"}),
    "get_skill_release_health": ({"release_id"}, {"release_id"}),
}


async def test_every_tool_takes_upstream_arguments(server: MCPServer) -> None:
    schemas = {tool.name: tool.input_schema for tool in await server.list_tools()}
    found = {
        name: (set(schema["properties"]), set(schema.get("required", [])))
        for name, schema in schemas.items()
    }
    assert found == UPSTREAM | ADDED


async def test_process_arguments_are_typed(server: MCPServer) -> None:
    schemas = {tool.name: tool.input_schema for tool in await server.list_tools()}
    logs = schemas["get_process_logs"]["properties"]
    assert logs["stream"]["enum"] == ["stdout", "stderr"]
    assert logs["offset"]["minimum"] == 0
    env = schemas["start_process"]["properties"]["env"]["anyOf"][0]
    assert env == {"additionalProperties": {"type": "string"}, "type": "object"}


async def test_every_tool_is_described(server: MCPServer) -> None:
    assert all(tool.description for tool in await server.list_tools())
