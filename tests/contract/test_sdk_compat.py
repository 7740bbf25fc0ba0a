"""The upstream `shipyard-neo-sdk` from PyPI drives our Bay through every method it has
(skills are in test_sdk_skills.py)."""

from collections.abc import AsyncIterator

import pytest
from shipyard_neo import (
    BayClient,
    CargoFileNotFoundError,
    ConflictError,
    NotFoundError,
    SandboxTTLInfiniteError,
)

from tests.contract.conftest import Target


@pytest.fixture
async def client(target: Target) -> AsyncIterator[BayClient]:
    async with BayClient(endpoint_url=target.url, access_token=target.api_key) as bay:
        yield bay


async def test_full_session(client: BayClient) -> None:
    sandbox = await client.create_sandbox(ttl=600, idempotency_key="compat-create-1")
    again = await client.create_sandbox(ttl=600, idempotency_key="compat-create-1")
    assert again.id == sandbox.id
    try:
        await sandbox.python.exec("x = 41")
        result = await sandbox.python.exec("print(x + 1)", include_code=True, tags="compat")
        assert (result.success, result.output, result.code) == (True, "42", "print(x + 1)")
        shell = await sandbox.shell.exec("echo hi; echo oops >&2", cwd=".")
        assert (shell.success, shell.output, shell.exit_code) == (True, "hi", 0)

        history = await sandbox.get_execution_history(exec_type="python", tags="compat")
        assert [entry.id for entry in history.entries] == [result.execution_id]
        last = await sandbox.get_last_execution(exec_type="shell")
        assert last.id == shell.execution_id
        execution_id = result.execution_id
        assert execution_id is not None
        noted = await sandbox.annotate_execution(execution_id, notes="worked")
        assert noted.notes == "worked"
        assert (await sandbox.get_execution(execution_id)).notes == "worked"

        before = sandbox.expires_at
        await sandbox.extend_ttl(120, idempotency_key="compat-extend-1")
        assert sandbox.expires_at is not None
        assert before is not None
        assert sandbox.expires_at > before
        await sandbox.keepalive()
        await sandbox.refresh()
        assert sandbox.status.value in {"ready", "idle"}

        await sandbox.stop()
        lost = await sandbox.python.exec("x")
        assert lost.success is False
    finally:
        await sandbox.delete()
    with pytest.raises(NotFoundError):
        await client.get_sandbox(sandbox.id)


async def test_files(client: BayClient) -> None:
    sandbox = await client.create_sandbox()
    try:
        files = sandbox.filesystem
        await files.write_file("dir/a.txt", "hello")
        assert await files.read_file("dir/a.txt") == "hello"
        entries = await files.list_dir("dir")
        assert [(e.name, e.is_dir) for e in entries] == [("a.txt", False)]
        payload = bytes(range(256)) * 1000
        await files.upload("blob.bin", payload)
        assert await files.download("blob.bin") == payload
        await files.delete("dir")
        with pytest.raises(CargoFileNotFoundError):
            await files.read_file("dir/a.txt")
    finally:
        await sandbox.delete()


async def test_listing_and_profiles(client: BayClient) -> None:
    sandbox = await client.create_sandbox()
    try:
        page = await client.list_sandboxes(limit=200)
        assert sandbox.id in [item.id for item in page.items]
        assert (await client.get_sandbox(sandbox.id)).id == sandbox.id
        profiles = await client.list_profiles(detail=True)
        assert "python-default" in [p.id for p in profiles.items]
    finally:
        await sandbox.delete()


async def test_cargos(client: BayClient) -> None:
    cargo = await client.cargos.create(size_limit_mb=64, idempotency_key="compat-cargo-1")
    assert (
        await client.cargos.create(size_limit_mb=64, idempotency_key="compat-cargo-1")
    ).id == cargo.id
    default_size = await client.cargos.create()
    try:
        assert cargo.size_limit_mb == 64
        assert (await client.cargos.get(cargo.id)).id == cargo.id
        listed = await client.cargos.list(limit=200)
        assert {cargo.id, default_size.id} <= {item.id for item in listed.items}
        sandbox = await client.create_sandbox(cargo_id=cargo.id)
        with pytest.raises(ConflictError):
            await client.cargos.delete(cargo.id)
        await sandbox.delete()
    finally:
        await client.cargos.delete(cargo.id)
        await client.cargos.delete(default_size.id)
    with pytest.raises(NotFoundError):
        await client.cargos.get(cargo.id)


async def test_infinite_ttl_cannot_be_extended(client: BayClient) -> None:
    sandbox = await client.create_sandbox()
    try:
        with pytest.raises(SandboxTTLInfiniteError):
            await sandbox.extend_ttl(10)
    finally:
        await sandbox.delete()


async def test_browser_exec_batch_and_skill_run(client: BayClient) -> None:
    sandbox = await client.create_sandbox(profile="browser-python", ttl=600)
    try:
        opened = await sandbox.browser.exec("open about:blank", include_trace=True)
        assert (opened.success, opened.exit_code) == (True, 0), opened.error
        assert opened.trace_ref is not None
        assert opened.trace_ref.startswith("blob:")
        url = await sandbox.browser.exec("get url", description="where", tags="compat")
        assert (url.success, url.output) == (True, "about:blank")

        batch = await sandbox.browser.exec_batch(["get url", "get title"], timeout=120)
        assert (batch.success, batch.completed_steps, batch.total_steps) == (True, 2, 2)
        assert [(s.cmd, s.exit_code) for s in batch.results] == [("get url", 0), ("get title", 0)]
        history = await sandbox.get_execution_history(exec_type="browser_batch")
        assert [entry.id for entry in history.entries] == [batch.execution_id]

        payload = await client.skills.create_payload(payload={"commands": ["get url"]})
        assert batch.execution_id is not None
        made = await client.skills.create_candidate(
            skill_key="compat-browser",
            source_execution_ids=[batch.execution_id],
            payload_ref=payload.payload_ref,
        )
        assert made.skill_type == "browser"
        await client.skills.evaluate_candidate(made.id, passed=True)
        release = await client.skills.promote_candidate(made.id)
        ran = await sandbox.browser.run_skill("compat-browser")
        assert (ran.skill_key, ran.release_id, ran.success) == (
            "compat-browser",
            release.id,
            True,
        )
        assert [step.stdout.strip() for step in ran.results] == ["about:blank"]
        await client.skills.delete_release(release.id)
        with pytest.raises(NotFoundError):
            await sandbox.browser.run_skill("compat-browser")
    finally:
        await sandbox.delete()


async def test_other_owner_sees_404(client: BayClient, target: Target) -> None:
    with target.client() as admin:
        other = admin.post("/v1/admin/keys", json={"owner": "compat-other"}).json()
    sandbox = await client.create_sandbox()
    try:
        async with BayClient(endpoint_url=target.url, access_token=other["api_key"]) as stranger:
            with pytest.raises(NotFoundError):
                await stranger.get_sandbox(sandbox.id)
    finally:
        await sandbox.delete()
