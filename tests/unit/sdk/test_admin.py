"""`client.profiles`, `client.admin.keys`, `client.admin.gc` and health, on Bay in-process."""

import pytest

from shipyard import AsyncClient, ForbiddenError, UnauthorizedError
from tests.unit.bay.conftest import Bay


class TestProfiles:
    async def test_list_names_every_profile(self, aclient: AsyncClient) -> None:
        profiles = await aclient.profiles.list()
        assert [p.id for p in profiles.items] == ["python-default", "python-only"]
        assert profiles.items[0].containers is None

    async def test_detail_adds_containers(self, aclient: AsyncClient) -> None:
        detailed = await aclient.profiles.list(detail=True)
        assert detailed.items[0].containers is not None


class TestKeys:
    async def test_create_list_revoke(self, aclient: AsyncClient, bay_app: Bay) -> None:
        created = await aclient.admin.keys.create("alice")
        assert created.owner == "alice"
        listed = {key.id: key for key in (await aclient.admin.keys.list()).items}
        assert listed[created.id].is_active
        transport = bay_app.client._transport
        async with AsyncClient("http://bay", created.api_key, transport=transport) as alice:
            assert (await alice.sandboxes.list()).items == []
            with pytest.raises(ForbiddenError):
                await alice.admin.keys.list()
            await aclient.admin.keys.revoke(created.id)
            with pytest.raises(UnauthorizedError):
                await alice.sandboxes.list()


class TestGc:
    async def test_run_selected_tasks(self, aclient: AsyncClient) -> None:
        result = await aclient.admin.gc.run(["expired_sandbox"])
        assert [r.task_name for r in result.results] == ["expired_sandbox"]

    async def test_status_lists_tasks(self, aclient: AsyncClient) -> None:
        status = await aclient.admin.gc.status()
        assert status.enabled is False
        assert "idle_session" in status.tasks


async def test_health_answers_ok(aclient: AsyncClient) -> None:
    assert (await aclient.health()).status == "ok"
