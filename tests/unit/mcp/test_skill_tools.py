"""The skill tools end to end on Bay in a thread: payload, candidate, evaluation, release,
health, rollback and the deletion rules; another owner sees none of it."""

import re

import pytest
from mcp.server.mcpserver import MCPServer

from shipyard import AsyncClient, Client
from shipyard_mcp.config import Settings
from shipyard_mcp.server import create_server
from tests.unit.mcp.conftest import IN_PACKAGE_LOOP, call, call_result, text_of

pytestmark = IN_PACKAGE_LOOP


@pytest.fixture
def execution_id(client: Client) -> str:
    with client.sandboxes.create() as sandbox:
        return sandbox.shell.run("true").execution_id


def first_id(prefix: str, answer: str) -> str:
    found = re.search(rf"\b{prefix}-[0-9a-f]+", answer)
    assert found, answer
    return found.group(0)


async def passing(server: MCPServer, skill_key: str, execution_id: str) -> str:
    made = await call(
        server, "create_skill_candidate", skill_key=skill_key, source_execution_ids=[execution_id]
    )
    candidate_id = first_id("sc", made)
    evaluated = await call(
        server, "evaluate_skill_candidate", candidate_id=candidate_id, passed=True, score=0.9
    )
    assert evaluated.startswith("Evaluation se-")
    assert evaluated.endswith("passed\nscore: 0.9")
    return candidate_id


class TestPayloads:
    async def test_create_and_get(self, server: MCPServer) -> None:
        made = await call(server, "create_skill_payload", payload={"commands": ["snapshot -i"]})
        ref = first_id("blob:blob", made)
        assert made == f"Payload {ref} (kind generic)"
        shown = await call(server, "get_skill_payload", payload_ref=ref)
        assert shown.startswith(f"Payload {ref} (kind generic):\n{{")
        assert '"snapshot -i"' in shown

    async def test_unknown_ref_is_an_api_error(self, server: MCPServer) -> None:
        result = await call_result(server, "get_skill_payload", payload_ref="blob:blob-0000000")
        assert result.is_error
        assert text_of(result).startswith("**API Error:** [not_found]")


class TestCandidates:
    async def test_create_get_list(self, server: MCPServer, execution_id: str) -> None:
        made = await call(
            server,
            "create_skill_candidate",
            skill_key="mcp-list",
            source_execution_ids=[execution_id],
            summary="does it",
            preconditions={"logged_in": True},
        )
        candidate_id = first_id("sc", made)
        assert made.startswith(f"Candidate {candidate_id} of mcp-list [draft]")
        shown = await call(server, "get_skill_candidate", candidate_id=candidate_id)
        assert f"source_execution_ids: {execution_id}" in shown
        assert "summary: does it" in shown
        assert "preconditions: {'logged_in': True}" in shown
        listed = await call(server, "list_skill_candidates", skill_key="mcp-list")
        assert listed == f"1 of 1 candidates (newest first)\n- {candidate_id} mcp-list [draft]"

    async def test_failed_evaluation_rejects(self, server: MCPServer, execution_id: str) -> None:
        made = await call(
            server,
            "create_skill_candidate",
            skill_key="mcp-rej",
            source_execution_ids=[execution_id],
        )
        candidate_id = first_id("sc", made)
        answer = await call(
            server, "evaluate_skill_candidate", candidate_id=candidate_id, passed=False
        )
        assert answer.endswith(f"of {candidate_id}: failed")
        listed = await call(server, "list_skill_candidates", status="rejected", skill_key="mcp-rej")
        assert f"- {candidate_id} mcp-rej [rejected]" in listed

    async def test_promote_needs_a_pass(self, server: MCPServer, execution_id: str) -> None:
        made = await call(
            server,
            "create_skill_candidate",
            skill_key="mcp-draft",
            source_execution_ids=[execution_id],
        )
        result = await call_result(
            server, "promote_skill_candidate", candidate_id=first_id("sc", made)
        )
        assert result.is_error
        assert text_of(result).startswith("**API Error:** [conflict]")


class TestReleases:
    async def test_promote_health_rollback_delete(
        self, server: MCPServer, execution_id: str
    ) -> None:
        first = await passing(server, "mcp-rel", execution_id)
        v1 = await call(server, "promote_skill_candidate", candidate_id=first, stage="stable")
        assert re.match(r"Release sr-\w+: mcp-rel v1 \[stable, active\]", v1)
        second = await passing(server, "mcp-rel", execution_id)
        v2 = await call(
            server, "promote_skill_candidate", candidate_id=second, change_summary="faster"
        )
        release_id = first_id("sr", v2)
        assert "change_summary: faster" in v2
        active = await call(server, "list_skill_releases", skill_key="mcp-rel", active_only=True)
        assert active.splitlines()[1].startswith(f"- {release_id} mcp-rel v2 [canary, active]")

        health = await call(server, "get_skill_release_health", release_id=release_id)
        assert health.startswith(f"Release {release_id} (mcp-rel, canary): healthy, keep")
        assert "samples: 0" in health

        refused = await call_result(server, "delete_skill_candidate", candidate_id=second)
        assert text_of(refused).startswith("**API Error:** [conflict]")
        back = await call(server, "rollback_skill_release", release_id=release_id)
        assert re.match(r"Release sr-\w+: mcp-rel v3 \[stable, active\]", back)
        assert f"candidate_id: {first}" in back
        assert f"rollback_of: {release_id}" in back
        rolled = await call(server, "get_skill_candidate", candidate_id=second)
        assert "[rolled_back]" in rolled.splitlines()[0]

        restored = first_id("sr", back)
        deleted = await call(server, "delete_skill_release", release_id=restored, reason="done")
        assert deleted == f"Release {restored} deleted"
        gone = await call(server, "delete_skill_candidate", candidate_id=second, reason="old")
        assert gone == f"Candidate {second} deleted"
        again = await call_result(server, "get_skill_candidate", candidate_id=second)
        assert text_of(again).startswith("**API Error:** [not_found]")

    async def test_rolling_back_the_first_version_is_a_conflict(
        self, server: MCPServer, execution_id: str
    ) -> None:
        candidate_id = await passing(server, "mcp-only", execution_id)
        released = await call(server, "promote_skill_candidate", candidate_id=candidate_id)
        result = await call_result(
            server, "rollback_skill_release", release_id=first_id("sr", released)
        )
        assert text_of(result).startswith("**API Error:** [conflict]")


async def test_another_owners_skills_are_not_found(
    server: MCPServer, client: Client, settings: Settings, execution_id: str
) -> None:
    candidate_id = await passing(server, "mcp-mine", execution_id)
    released = await call(server, "promote_skill_candidate", candidate_id=candidate_id)
    release_id = first_id("sr", released)
    other = client.admin.keys.create("mcp-skills-other").api_key
    async with AsyncClient(settings.endpoint, other) as stranger_client:
        stranger = create_server(settings, stranger_client)
        for tool, arguments in (
            ("get_skill_candidate", {"candidate_id": candidate_id}),
            ("evaluate_skill_candidate", {"candidate_id": candidate_id, "passed": True}),
            ("promote_skill_candidate", {"candidate_id": candidate_id}),
            ("delete_skill_candidate", {"candidate_id": candidate_id}),
            ("get_skill_release_health", {"release_id": release_id}),
            ("rollback_skill_release", {"release_id": release_id}),
            ("delete_skill_release", {"release_id": release_id}),
        ):
            result = await call_result(stranger, tool, **arguments)
            assert text_of(result).startswith("**API Error:** [not_found]"), tool
        listed = await call(stranger, "list_skill_releases", skill_key="mcp-mine")
        assert listed == "0 of 0 releases (newest first)"
