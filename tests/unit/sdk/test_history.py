"""`sandbox.history`: list, get, last and annotate, on Bay in-process."""

import pytest

from shipyard import AsyncClient, AsyncSandbox, NotFoundError


@pytest.fixture
async def sandbox(aclient: AsyncClient) -> AsyncSandbox:
    return await aclient.sandboxes.create()


class TestList:
    async def test_filters_by_tag_and_success(self, sandbox: AsyncSandbox) -> None:
        tagged = await sandbox.shell.run("true", tags="keep,sdk")
        await sandbox.shell.run("false", tags="keep")
        page = await sandbox.history.list(tags=["sdk"], success_only=True)
        assert [entry.id for entry in page.entries] == [tagged.execution_id]
        assert (await sandbox.history.list(exec_type="shell")).total == 2


class TestGetAndLast:
    async def test_get_answers_the_entry(self, sandbox: AsyncSandbox) -> None:
        ran = await sandbox.shell.run("echo hi")
        entry = await sandbox.history.get(ran.execution_id)
        assert (entry.code, entry.output) == ("echo hi", "hi")

    async def test_last_answers_the_newest(self, sandbox: AsyncSandbox) -> None:
        await sandbox.shell.run("echo 1")
        newest = await sandbox.shell.run("echo 2")
        assert (await sandbox.history.last(exec_type="shell")).id == newest.execution_id

    async def test_last_without_history_raises(self, sandbox: AsyncSandbox) -> None:
        with pytest.raises(NotFoundError):
            await sandbox.history.last()


class TestAnnotate:
    async def test_sets_only_the_given_fields(self, sandbox: AsyncSandbox) -> None:
        ran = await sandbox.shell.run("true", description="first")
        entry = await sandbox.history.annotate(ran.execution_id, notes="worked", tags=["b", "a"])
        assert (entry.description, entry.notes, entry.tags) == ("first", "worked", "a,b")
