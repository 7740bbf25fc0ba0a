"""`WS /terminal`: a PTY running `bash -l` in the workspace for as long as the socket is open."""

from typing import Annotated

from fastapi import APIRouter, Query, WebSocket

from ship.api.deps import TerminalsDep

router = APIRouter()


@router.websocket("/terminal")
async def terminal(
    websocket: WebSocket,
    terminals: TerminalsDep,
    cols: Annotated[int, Query(ge=1, le=1000)] = 80,
    rows: Annotated[int, Query(ge=1, le=1000)] = 24,
) -> None:
    await websocket.accept()
    async with terminals.open(cols, rows) as pty:
        await pty.relay(websocket)
