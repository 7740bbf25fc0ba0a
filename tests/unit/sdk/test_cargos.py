"""`client.cargos`, on Bay in-process."""

import pytest

from shipyard import AsyncClient, ConflictError, InvalidRequestError, NotFoundError


class TestCreate:
    async def test_without_a_size_uses_the_default(self, aclient: AsyncClient) -> None:
        cargo = await aclient.cargos.create()
        assert (cargo.id[:3], cargo.managed, cargo.size_limit_mb) == ("ws-", False, 1024)

    async def test_same_key_makes_one_cargo(self, aclient: AsyncClient) -> None:
        first = await aclient.cargos.create(size_limit_mb=10, idempotency_key="sdk-cargo")
        again = await aclient.cargos.create(size_limit_mb=10, idempotency_key="sdk-cargo")
        assert again.id == first.id

    async def test_out_of_range_size_raises(self, aclient: AsyncClient) -> None:
        with pytest.raises(InvalidRequestError) as caught:
            await aclient.cargos.create(size_limit_mb=0)
        assert caught.value.status == 422
        assert "size_limit_mb" in caught.value.message


class TestListGetDelete:
    async def test_list_shows_external_cargos(self, aclient: AsyncClient) -> None:
        cargo = await aclient.cargos.create()
        await aclient.sandboxes.create()
        assert [c.id for c in (await aclient.cargos.list()).items] == [cargo.id]
        assert len((await aclient.cargos.list(managed=True)).items) == 1

    async def test_get_then_delete(self, aclient: AsyncClient) -> None:
        cargo = await aclient.cargos.create()
        assert (await aclient.cargos.get(cargo.id)).id == cargo.id
        await aclient.cargos.delete(cargo.id)
        with pytest.raises(NotFoundError):
            await aclient.cargos.get(cargo.id)

    async def test_delete_in_use_raises_conflict(self, aclient: AsyncClient) -> None:
        cargo = await aclient.cargos.create()
        sandbox = await aclient.sandboxes.create(cargo_id=cargo.id)
        with pytest.raises(ConflictError) as caught:
            await aclient.cargos.delete(cargo.id)
        assert caught.value.details["active_sandbox_ids"] == [sandbox.id]
