"""Bay's bearer token on a TCP Ship: checked on every request but /health. That the sandbox
never inherits it needs `python -m ship` as a process: tests/cli/test_ship.py."""

import hashlib

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from ship.app import create_app
from ship.config import ShipConfig

from .conftest import ServeShip, StartShip

TOKEN = "b" * 64
DIGEST = hashlib.sha256(TOKEN.encode()).hexdigest()
GOOD = {"Authorization": f"Bearer {TOKEN}"}


class TestTokenGate:
    async def test_a_request_without_the_token_is_refused(self, start_ship: StartShip) -> None:
        async with start_ship(token_sha256=DIGEST) as client:
            response = await client.post("/shell/exec", json={"command": "true"})

        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "unauthorized"

    @pytest.mark.parametrize(
        "authorization",
        [f"Bearer {'c' * 64}", f"Basic {TOKEN}", "Bearer", DIGEST, f"Bearer {DIGEST}"],
    )
    async def test_a_wrong_token_is_refused(
        self, start_ship: StartShip, authorization: str
    ) -> None:
        async with start_ship(token_sha256=DIGEST) as client:
            response = await client.get(
                "/directories", params={"path": "."}, headers={"Authorization": authorization}
            )

        assert response.status_code == 401
        assert TOKEN not in response.text

    async def test_the_token_lets_a_request_in(self, start_ship: StartShip) -> None:
        async with start_ship(token_sha256=DIGEST) as client:
            response = await client.post("/shell/exec", json={"command": "echo hi"}, headers=GOOD)

        assert response.status_code == 200
        assert response.json()["stdout"] == "hi\n"

    async def test_health_stays_open(self, start_ship: StartShip) -> None:
        async with start_ship(token_sha256=DIGEST) as client:
            response = await client.get("/health")

        assert response.status_code == 200

    async def test_without_a_digest_no_token_is_asked(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/directories", params={"path": "."})

        assert response.status_code == 200

    async def test_a_terminal_without_the_token_is_refused(self, serve_ship: ServeShip) -> None:
        async with serve_ship(token_sha256=DIGEST) as url:
            with pytest.raises(InvalidStatus) as refused:
                await connect(url.replace("http", "ws", 1) + "/terminal")

        assert refused.value.response.status_code == 403

    async def test_a_terminal_with_the_token_opens(self, serve_ship: ServeShip) -> None:
        async with serve_ship(token_sha256=DIGEST) as url:
            ws_url = url.replace("http", "ws", 1) + "/terminal"
            async with connect(ws_url, additional_headers=GOOD) as terminal:
                await terminal.send(b"exit\n")

    def test_a_digest_that_is_not_a_sha256_stops_ship(self) -> None:
        app = create_app(ShipConfig(token_sha256=DIGEST[:8]))
        with pytest.raises(ValueError, match="SHA-256"):
            app.build_middleware_stack()
