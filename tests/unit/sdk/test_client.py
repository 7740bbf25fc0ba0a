"""The SDK against the real Bay app in-process."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

import shipyard
from shipyard import AsyncClient, NotFoundError, UnauthorizedError
from tests.unit.bay.conftest import ADMIN_KEY, make_settings, start_bay


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[AsyncClient]:
    async with start_bay(make_settings(tmp_path)) as bay:
        transport = bay.client._transport
        async with AsyncClient("http://bay", ADMIN_KEY, transport=transport) as sdk:
            yield sdk


def test_public_api_is_exactly_all() -> None:
    public = {name for name in dir(shipyard) if not name.startswith("_")}
    assert public - {"errors"} == set(shipyard.__all__)


async def test_python_keeps_variables(client: AsyncClient) -> None:
    sandbox = await client.create_sandbox()
    await client.run_python(sandbox.id, "x = 41")
    assert (await client.run_python(sandbox.id, "x + 1")).output == "42"


async def test_shell_answers_exit_code(client: AsyncClient) -> None:
    sandbox = await client.create_sandbox()
    assert (await client.run_shell(sandbox.id, "exit 4")).exit_code == 4


async def test_deleted_sandbox_raises_not_found(client: AsyncClient) -> None:
    sandbox = await client.create_sandbox()
    await client.delete_sandbox(sandbox.id)
    with pytest.raises(NotFoundError) as caught:
        await client.get_sandbox(sandbox.id)
    assert caught.value.status == 404


async def test_bad_key_raises_unauthorized(tmp_path: Path) -> None:
    async with start_bay(make_settings(tmp_path)) as bay:
        transport: httpx.AsyncBaseTransport = bay.client._transport
        async with AsyncClient("http://bay", "wrong", transport=transport) as sdk:
            with pytest.raises(UnauthorizedError):
                await sdk.create_sandbox()


def test_endpoint_and_key_fall_back_to_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPYARD_ENDPOINT", "http://example.invalid:1")
    monkeypatch.setenv("SHIPYARD_API_KEY", "k")
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(404, json={"error": {"code": "not_found", "message": "no"}})

    with (
        shipyard.Client(transport=httpx.MockTransport(handler)) as sdk,
        pytest.raises(NotFoundError),
    ):
        sdk.get_sandbox("sandbox-x")
    assert str(seen[0].url) == "http://example.invalid:1/v1/sandboxes/sandbox-x"
    assert seen[0].headers["authorization"] == "Bearer k"
