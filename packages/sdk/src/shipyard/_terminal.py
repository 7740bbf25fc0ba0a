"""What `AsyncTerminal` and `Terminal` share: where they connect, their frames, Bay's refusals.

websockets is optional (`shipyard-sdk[terminal]`): it is imported when a terminal opens, so the
rest of the SDK needs only httpx and pydantic. `Terminal` runs on websockets' synchronous client
(which reads in a thread of its own), so the sync client needs no event loop for it."""

import asyncio
import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import httpx

from shipyard import _endpoints as req
from shipyard.errors import ShipyardError, error_class
from shipyard_protocol.ship import TerminalInput

if TYPE_CHECKING:
    from websockets.asyncio import client as async_ws
    from websockets.sync import client as sync_ws

MAX_FRAME = 16 * 1024 * 1024
INSTALL_HINT = "the terminal needs websockets: pip install 'shipyard-sdk[terminal]'"


def require_websockets() -> None:
    """Raise `ModuleNotFoundError` with the install hint when websockets is missing."""
    if importlib.util.find_spec("websockets") is None:
        raise ModuleNotFoundError(INSTALL_HINT, name="websockets")


class TerminalTarget:
    """Where a terminal connects: the client's base URL as `ws(s)://`, and its key."""

    def __init__(
        self, http: httpx.Client | httpx.AsyncClient, sandbox_id: str, cols: int, rows: int
    ):
        path, query = req.terminal_path(sandbox_id, cols, rows)
        base = http.base_url
        url = base.copy_with(raw_path=base.raw_path + path.lstrip("/").encode())
        url = url.copy_merge_params(query)
        self.url = str(url.copy_with(scheme="wss" if url.scheme == "https" else "ws"))
        key = http.headers.get("Authorization")
        self.headers = {"Authorization": key} if key else {}
        self.open_timeout = http.timeout.connect


def refusal(exc: Exception) -> ShipyardError | None:
    """Bay's answer in a close code (4000 + HTTP status) or a refused handshake, as an error."""
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        return error_class(None, status)(f"terminal refused with HTTP {status}", status)
    received = exc.rcvd if isinstance(exc, ConnectionClosed) else None
    if received is None or received.code < 4000:
        return None
    status = received.code - 4000
    return error_class(None, status)(received.reason or "terminal refused", status)


@contextmanager
def mapped() -> Iterator[None]:
    """Turn a close or handshake that carries Bay's refusal into its `ShipyardError`."""
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    try:
        yield
    except (ConnectionClosed, InvalidStatus) as exc:
        error = refusal(exc)
        if error is None:
            raise
        raise error from exc


def as_bytes(frame: str | bytes) -> bytes:
    return frame if isinstance(frame, bytes) else frame.encode()


def input_frame(data: str) -> str:
    return TerminalInput(type="input", data=data).model_dump_json()


def resize_frame(cols: int, rows: int) -> str:
    return TerminalInput(type="resize", cols=cols, rows=rows).model_dump_json()


# The one place the two terminals differ: asyncio's client takes no timeout of its own.
# scripts/unasync.py writes `Terminal` from `AsyncTerminal`, turning `async_received` into
# `received`.


async def async_received(socket: "async_ws.ClientConnection", timeout: float | None) -> str | bytes:
    return await asyncio.wait_for(socket.recv(), timeout)


def received(socket: "sync_ws.ClientConnection", timeout: float | None) -> str | bytes:
    return socket.recv(timeout)
