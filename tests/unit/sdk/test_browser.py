"""`sandbox.browser`: one command, a batch, a replayed skill release and traces, on Bay
in-process (async) and in a thread (sync), with the fake driver's stand-in agent-browser."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shipyard import (
    AsyncClient,
    AsyncSandbox,
    CapabilityNotSupportedError,
    Client,
    InvalidArgumentError,
    NotFoundError,
)
from tests.unit.bay.conftest import Bay, make_settings, start_bay
from tests.unit.sdk import live
from tests.unit.sdk.live import BROWSER_PROFILE, browser_profiles, fake_browser


@pytest.fixture
async def bay_app(tmp_path: Path) -> AsyncIterator[Bay]:
    """Bay in-process with the browser profile and the stand-in agent-browser."""
    settings = make_settings(tmp_path / "bay", profiles=browser_profiles())
    with fake_browser(tmp_path / "bin"):
        async with start_bay(settings) as bay:
            yield bay


live_url = live.browser_bay_url


@pytest.fixture
async def browser_sandbox(aclient: AsyncClient) -> AsyncSandbox:
    return await aclient.sandboxes.create(BROWSER_PROFILE)


class TestExec:
    async def test_a_command_answers_its_output(self, browser_sandbox: AsyncSandbox) -> None:
        result = await browser_sandbox.browser.exec("open about:blank")
        assert (result.success, result.output, result.exit_code) == (True, "open about:blank", 0)
        assert (result.error, result.trace_ref) == (None, None)
        entry = await browser_sandbox.history.get(result.execution_id)
        assert (entry.exec_type, entry.code) == ("browser", "open about:blank")

    async def test_a_failing_command_is_a_result(self, browser_sandbox: AsyncSandbox) -> None:
        result = await browser_sandbox.browser.exec("fail", description="no match", tags=["a"])
        assert (result.success, result.exit_code) == (False, 1)
        assert result.error == "no element matches"
        entry = await browser_sandbox.history.get(result.execution_id)
        assert (entry.success, entry.description, entry.tags) == (False, "no match", "a")

    async def test_include_trace_answers_a_readable_trace(
        self, browser_sandbox: AsyncSandbox
    ) -> None:
        result = await browser_sandbox.browser.exec("echo hi", include_trace=True)
        assert result.trace_ref is not None
        read = await browser_sandbox.browser.trace(result.trace_ref)
        assert read.trace_ref == result.trace_ref
        assert isinstance(read.trace, dict)
        assert read.trace["kind"] == "browser_exec_trace"
        assert [step["cmd"] for step in read.trace["steps"]] == ["echo hi"]

    async def test_learn_alone_records_the_trace_in_history_only(
        self, browser_sandbox: AsyncSandbox
    ) -> None:
        result = await browser_sandbox.browser.exec("echo hi", learn=True)
        assert result.trace_ref is None
        entry = await browser_sandbox.history.get(result.execution_id)
        assert entry.learn_enabled
        assert (entry.payload_ref or "").startswith("blob:")

    async def test_arguments_are_checked_before_sending(
        self, browser_sandbox: AsyncSandbox
    ) -> None:
        with pytest.raises(InvalidArgumentError):
            await browser_sandbox.browser.exec("open about:blank", timeout=0)
        with pytest.raises(InvalidArgumentError):
            await browser_sandbox.browser.exec_batch([])

    async def test_a_sandbox_without_a_browser_refuses(self, aclient: AsyncClient) -> None:
        sandbox = await aclient.sandboxes.create("python-default")
        with pytest.raises(CapabilityNotSupportedError):
            await sandbox.browser.exec("open about:blank")

    async def test_an_unknown_trace_is_not_found(self, browser_sandbox: AsyncSandbox) -> None:
        with pytest.raises(NotFoundError):
            await browser_sandbox.browser.trace("blob:blob-000000000000")


class TestBatch:
    async def test_stops_at_the_first_failure(self, browser_sandbox: AsyncSandbox) -> None:
        result = await browser_sandbox.browser.exec_batch(["open about:blank", "fail", "echo x"])
        assert (result.success, result.completed_steps, result.total_steps) == (False, 2, 3)
        assert [(s.cmd, s.exit_code) for s in result.results] == [
            ("open about:blank", 0),
            ("fail", 1),
        ]
        entry = await browser_sandbox.history.get(result.execution_id)
        assert (entry.exec_type, entry.code) == ("browser_batch", "open about:blank\nfail\necho x")

    async def test_keeps_going_when_asked(self, browser_sandbox: AsyncSandbox) -> None:
        result = await browser_sandbox.browser.exec_batch(
            ["fail", "echo x"], stop_on_error=False, include_trace=True
        )
        assert (result.success, result.completed_steps) == (False, 2)
        assert result.results[1].stdout == "echo x\n"
        assert result.trace_ref is not None
        trace = (await browser_sandbox.browser.trace(result.trace_ref)).trace
        assert isinstance(trace, dict)
        assert (trace["kind"], trace["total_steps"]) == ("browser_batch_trace", 2)


class TestRunSkill:
    async def test_replays_the_active_release(
        self, aclient: AsyncClient, browser_sandbox: AsyncSandbox
    ) -> None:
        source = await browser_sandbox.browser.exec("open about:blank")
        payload = await aclient.skills.create_payload(
            payload={"commands": ["open about:blank", "echo done"]}, kind="browser"
        )
        made = await aclient.skills.create_candidate(
            skill_key="sdk-replay",
            source_execution_ids=[source.execution_id],
            payload_ref=payload.payload_ref,
        )
        await aclient.skills.evaluate_candidate(made.id, passed=True)
        release = await aclient.skills.promote_candidate(made.id)

        ran = await browser_sandbox.browser.run_skill("sdk-replay", tags="mine")
        assert (ran.skill_key, ran.release_id, ran.success) == ("sdk-replay", release.id, True)
        assert [step.cmd for step in ran.results] == ["open about:blank", "echo done"]
        entry = await browser_sandbox.history.get(ran.execution_id)
        assert entry.tags is not None
        assert {f"release:{release.id}", "skill:sdk-replay", "mine"} <= set(entry.tags.split(","))
        health = await aclient.skills.get_release_health(release.id)
        assert (health.samples, health.success_rate) == (1, 1.0)

    async def test_no_active_release_is_not_found(self, browser_sandbox: AsyncSandbox) -> None:
        with pytest.raises(NotFoundError):
            await browser_sandbox.browser.run_skill("sdk-never-released")


class TestSyncClient:
    def test_exec_and_batch(self, client: Client) -> None:
        with client.sandboxes.create(BROWSER_PROFILE) as sandbox:
            assert sandbox.browser.exec("echo a").output == "echo a"
            batch = sandbox.browser.exec_batch(["echo a", "echo b"], timeout=30)
            assert (batch.success, batch.completed_steps) == (True, 2)
