"""`WS /v1/sandboxes/{id}/terminal`: an interactive bash in the sandbox, relayed through Bay.

Authenticated like every other call (Authorization header, or `?token=` where a client
cannot set headers). Errors close the socket with 4000 + the HTTP status and a reason.
"""

from fastapi import APIRouter, WebSocket

from bay.api.deps import Terminals, capability_check, get_principal
from bay.api.websockets import relay
from bay.errors import BayError
from bay.services.terminals import terminal_size

router = APIRouter(tags=["terminal"])


@router.websocket("/v1/sandboxes/{sandbox_id}/terminal")
async def terminal(
    websocket: WebSocket,
    sandbox_id: str,
    terminals: Terminals,
    cols: str = "80",
    rows: str = "24",
    token: str | None = None,
) -> None:
    # The sizes are parsed here, after accept: FastAPI refuses bad query parameters of a
    # WebSocket before the handshake, which the client sees as a bare 403 with no reason.
    await websocket.accept()
    authorization = websocket.headers.get("authorization") or (token and f"Bearer {token}")
    try:
        caller = await get_principal(websocket, authorization, websocket.headers.get("x-owner"))
        size = terminal_size(cols, rows)
        sandbox = await capability_check(websocket).usable(caller.owner, sandbox_id, "shell")
        ship = await terminals.open(sandbox, *size)
    except BayError as exc:
        await websocket.close(code=4000 + exc.status, reason=exc.message[:120])
        return
    await relay(websocket, ship)
