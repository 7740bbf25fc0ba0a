"""`client.sandboxes` and the sandbox handle's lifecycle, on Bay in-process."""

import pytest

from shipyard import AsyncClient, NotFoundError, SandboxTTLInfiniteError
from shipyard_protocol.api import SandboxStatus


class TestCreate:
    async def test_answers_a_handle_with_the_wire_model(self, aclient: AsyncClient) -> None:
        sandbox = await aclient.sandboxes.create(ttl=600)
        assert sandbox.id.startswith("sandbox-")
        assert sandbox.info.profile == "python-default"
        assert sandbox.info.expires_at is not None

    async def test_same_idempotency_key_makes_one_sandbox(self, aclient: AsyncClient) -> None:
        first = await aclient.sandboxes.create(idempotency_key="sdk-create-1")
        again = await aclient.sandboxes.create(idempotency_key="sdk-create-1")
        assert again.id == first.id

    async def test_each_create_gets_its_own_key(self, aclient: AsyncClient) -> None:
        first = await aclient.sandboxes.create()
        second = await aclient.sandboxes.create()
        assert first.id != second.id


class TestGetAndList:
    async def test_get_answers_the_same_sandbox(self, aclient: AsyncClient) -> None:
        created = await aclient.sandboxes.create()
        found = await aclient.sandboxes.get(created.id)
        assert found.info.id == created.id

    async def test_list_pages_with_a_cursor(self, aclient: AsyncClient) -> None:
        ids = {(await aclient.sandboxes.create()).id for _ in range(3)}
        first = await aclient.sandboxes.list(limit=2)
        rest = await aclient.sandboxes.list(limit=2, cursor=first.next_cursor)
        assert {item.id for item in first.items + rest.items} == ids
        assert rest.next_cursor is None

    async def test_list_filters_by_status(self, aclient: AsyncClient) -> None:
        await aclient.sandboxes.create()
        assert (await aclient.sandboxes.list(status="failed")).items == []


class TestHandle:
    async def test_extend_ttl_updates_info(self, aclient: AsyncClient) -> None:
        sandbox = await aclient.sandboxes.create(ttl=60)
        before = sandbox.info.expires_at
        assert before is not None
        info = await sandbox.extend_ttl(120)
        assert sandbox.info is info
        assert info.expires_at is not None
        assert info.expires_at > before

    async def test_extend_ttl_of_endless_sandbox_raises(self, aclient: AsyncClient) -> None:
        sandbox = await aclient.sandboxes.create()
        with pytest.raises(SandboxTTLInfiniteError) as caught:
            await sandbox.extend_ttl(60)
        assert caught.value.status == 409

    async def test_keepalive_sets_idle_expiry(self, aclient: AsyncClient) -> None:
        sandbox = await aclient.sandboxes.create()
        await sandbox.keepalive()
        assert (await sandbox.refresh()).idle_expires_at is not None

    async def test_stop_leaves_it_idle(self, aclient: AsyncClient) -> None:
        sandbox = await aclient.sandboxes.create()
        await sandbox.shell.run("true")
        await sandbox.stop()
        assert (await sandbox.refresh()).status == SandboxStatus.IDLE

    async def test_delete_makes_it_not_found(self, aclient: AsyncClient) -> None:
        sandbox = await aclient.sandboxes.create()
        await sandbox.delete()
        await sandbox.delete()
        with pytest.raises(NotFoundError) as caught:
            await aclient.sandboxes.get(sandbox.id)
        assert caught.value.code == "not_found"

    async def test_async_with_deletes_on_exit(self, aclient: AsyncClient) -> None:
        async with await aclient.sandboxes.create() as sandbox:
            assert "AsyncSandbox sandbox-" in repr(sandbox)
        with pytest.raises(NotFoundError):
            await sandbox.refresh()
