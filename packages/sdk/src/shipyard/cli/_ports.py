"""`shipyard port-forward` and `shipyard port-url`: reach a server running in a sandbox."""

import asyncio
import contextlib
import functools
import json
from typing import Annotated

import typer
from websockets.asyncio import client as ws
from websockets.exceptions import InvalidStatus, WebSocketException

from shipyard import AsyncClient
from shipyard import _endpoints as req
from shipyard.cli._common import Connection, SandboxId, connect, emit, fail, reported

READ_BYTES = 256 * 1024
MAX_MESSAGE = 16 * 1024 * 1024
Port = Annotated[int, typer.Argument(help="The port the server listens on in the sandbox.")]


def port_forward(
    ctx: typer.Context,
    sandbox: SandboxId,
    port: Port,
    local: Annotated[
        int | None,
        typer.Argument(help="Local port on 127.0.0.1 (default: PORT; 0: any free one)."),
    ] = None,
) -> None:
    """Listen on 127.0.0.1:LOCAL and carry each connection to PORT in the sandbox through Bay,
    until Ctrl-C. Any TCP protocol works: HTTP, WebSocket, a database."""
    connection = ctx.ensure_object(Connection)
    bind = port if local is None else local
    try:
        with reported(), contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_forward(connection, sandbox, port, bind))
    except OSError as exc:  # the local port is taken, or not ours to bind
        fail(f"Error: cannot listen on 127.0.0.1:{bind}: {exc}")


def port_url(
    ctx: typer.Context,
    sandbox: SandboxId,
    port: Port,
    expires_in: Annotated[int, typer.Option(help="Seconds the link works (max 7 days).")] = 3600,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print a link to PORT in the sandbox that works without an API key until it expires."""
    with connect(ctx) as client:
        link = client.sandboxes.get(sandbox).url(port, expires_in=expires_in)
    emit(as_json, link, link.url)


async def _forward(connection: Connection, sandbox_id: str, port: int, local: int) -> None:
    async with AsyncClient(connection.endpoint, connection.api_key) as client:
        await client.sandboxes.get(sandbox_id)  # a wrong id or key fails here, not per connection
        http = client._http
        url = http.base_url.join(req.tunnel_path(sandbox_id, port).lstrip("/"))
        tunnel_url = str(url.copy_with(scheme="wss" if url.scheme == "https" else "ws"))
        key = http.headers.get("Authorization")
        headers = {"Authorization": key} if key else {}
        relay = functools.partial(_relay, tunnel_url, headers)
        server = await asyncio.start_server(relay, "127.0.0.1", local)
        bound = server.sockets[0].getsockname()[1]
        typer.echo(f"Forwarding 127.0.0.1:{bound} -> {sandbox_id} port {port} (Ctrl-C stops)")
        async with server:
            await server.serve_forever()


async def _relay(
    url: str, headers: dict[str, str], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        async with ws.connect(
            url, additional_headers=headers, max_size=MAX_MESSAGE, compression=None
        ) as tunnel:
            await _pump(reader, writer, tunnel)
    except (OSError, WebSocketException) as exc:
        typer.echo(f"port-forward: connection refused: {_reason(exc)}", err=True)
    finally:
        writer.close()


async def _pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tunnel: ws.ClientConnection
) -> None:
    """Both ways until the sandbox's side ends; this side's end is sent as an empty message
    (a half close), so a client that shuts down its writing still reads the answer."""

    async def send() -> None:
        while data := await reader.read(READ_BYTES):
            await tunnel.send(data)
        await tunnel.send(b"")

    sending = asyncio.create_task(send())
    try:
        async for frame in tunnel:
            writer.write(frame if isinstance(frame, bytes) else frame.encode())
            await writer.drain()
    finally:
        sending.cancel()
        await asyncio.gather(sending, return_exceptions=True)


def _reason(exc: Exception) -> str:
    """Bay's error message from a refused handshake, else the exception."""
    if isinstance(exc, InvalidStatus):
        try:
            return str(json.loads(exc.response.body or b"")["error"]["message"])
        except (ValueError, KeyError, TypeError):
            return f"HTTP {exc.response.status_code}"
    return str(exc) or type(exc).__name__
