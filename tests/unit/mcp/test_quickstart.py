"""docs/mcp.md's host snippets are valid JSON that start this server with the variables it
reads, and name every tool it has."""

import json
import re
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer

from shipyard_mcp.config import Settings
from tests.unit.mcp.conftest import IN_PACKAGE_LOOP

DOC = Path(__file__).resolve().parents[3] / "docs" / "mcp.md"


def snippets() -> list[dict[str, Any]]:
    blocks = re.findall(r"^```json\n(.*?)^```", DOC.read_text(), re.M | re.S)
    return [json.loads(block) for block in blocks]


def servers(snippet: dict[str, Any]) -> dict[str, Any]:
    return dict(snippet.get("mcpServers") or snippet["servers"])


def test_each_snippet_starts_shipyard_mcp_with_endpoint_and_key() -> None:
    found = snippets()
    assert len(found) >= 4
    for snippet in found:
        (config,) = servers(snippet).values()
        command = [config["command"], *config.get("args", [])]
        assert command[-1] == "shipyard-mcp"
        settings = Settings.from_env(config["env"])
        assert settings.endpoint == "http://127.0.0.1:8114"
        assert settings.token


def test_vs_code_asks_for_the_key_it_uses() -> None:
    (vscode,) = [s for s in snippets() if "servers" in s]
    (config,) = vscode["servers"].values()
    asked = {entry["id"] for entry in vscode["inputs"]}
    key = config["env"]["SHIPYARD_ACCESS_TOKEN"]
    assert key == "${input:shipyard-key}"
    assert asked == {"shipyard-key"}


@IN_PACKAGE_LOOP
async def test_every_tool_is_named(server: MCPServer) -> None:
    text = DOC.read_text()
    missing = [t.name for t in await server.list_tools() if f"`{t.name}`" not in text]
    assert not missing
