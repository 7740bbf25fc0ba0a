"""`sandbox.terminal()`: where it connects, and Bay's refusals as SDK errors.

The terminal itself is tested live on the local driver (tests/integration/test_clients_live.py)."""

from pathlib import Path

import httpx
import pytest

from shipyard import AsyncClient, AsyncSandbox, Client, ShipError, UnauthorizedError
from shipyard._terminal import TerminalTarget
from tests.unit.sdk.live import refuse_every_ship


def test_target_keeps_the_base_path_and_the_key() -> None:
    http = httpx.Client(
        base_url="https://bay.example/prefix", headers={"Authorization": "Bearer k"}
    )
    with http:
        target = TerminalTarget(http, "sandbox-1", 100, 30)
    assert target.url == "wss://bay.example/prefix/v1/sandboxes/sandbox-1/terminal?cols=100&rows=30"
    assert target.headers == {"Authorization": "Bearer k"}


def test_sync_terminal_refused_by_the_driver(client: Client, live_dir: Path) -> None:
    with client.sandboxes.create() as sandbox:
        sandbox.shell.run("true")  # a running session, whose Ship then dies
        refuse_every_ship(live_dir)
        with sandbox.terminal() as terminal, pytest.raises(ShipError) as caught:
            terminal.recv(timeout=30)
    assert caught.value.status == 502


async def test_async_terminal_with_a_bad_key(live_url: str, client: Client) -> None:
    with client.sandboxes.create() as sandbox:
        async with (
            AsyncClient(live_url, "sk-wrong") as stranger,
            AsyncSandbox(stranger, sandbox.info).terminal() as terminal,
        ):
            with pytest.raises(UnauthorizedError) as caught:
                await terminal.recv(timeout=30)
    assert caught.value.status == 401
