"""TTL, idle lease, extend_ttl and keepalive (contract §2)."""

from tests.unit.bay.conftest import AUTH, Bay, FakeClock


class TestTTL:
    async def test_expired_sandbox_refuses_capability_calls(
        self, bay: Bay, clock: FakeClock
    ) -> None:
        sandbox_id = await bay.sandbox(ttl=60)
        clock.advance(61)
        response = await bay.client.post(
            f"/v1/sandboxes/{sandbox_id}/shell/exec", json={"command": "true"}, headers=AUTH
        )
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "sandbox_expired"
        status = (await bay.client.get(f"/v1/sandboxes/{sandbox_id}", headers=AUTH)).json()
        assert status["status"] == "expired"

    async def test_extend_ttl_moves_expiry(self, bay: Bay, clock: FakeClock) -> None:
        sandbox_id = await bay.sandbox(ttl=60)
        before = (await bay.client.get(f"/v1/sandboxes/{sandbox_id}", headers=AUTH)).json()
        response = await bay.client.post(
            f"/v1/sandboxes/{sandbox_id}/extend_ttl", json={"extend_by": 120}, headers=AUTH
        )
        assert response.status_code == 200
        assert response.json()["expires_at"] > before["expires_at"]

    async def test_extend_ttl_of_infinite_sandbox_is_409(self, bay: Bay) -> None:
        sandbox_id = await bay.sandbox()
        response = await bay.client.post(
            f"/v1/sandboxes/{sandbox_id}/extend_ttl", json={"extend_by": 10}, headers=AUTH
        )
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "sandbox_ttl_infinite"

    async def test_extend_ttl_after_expiry_is_409(self, bay: Bay, clock: FakeClock) -> None:
        sandbox_id = await bay.sandbox(ttl=10)
        clock.advance(11)
        response = await bay.client.post(
            f"/v1/sandboxes/{sandbox_id}/extend_ttl", json={"extend_by": 10}, headers=AUTH
        )
        assert response.json()["error"]["code"] == "sandbox_expired"

    async def test_extend_by_must_be_positive(self, bay: Bay) -> None:
        sandbox_id = await bay.sandbox(ttl=10)
        response = await bay.client.post(
            f"/v1/sandboxes/{sandbox_id}/extend_ttl", json={"extend_by": 0}, headers=AUTH
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "validation_error"


class TestKeepalive:
    async def test_renews_idle_lease_without_starting_compute(
        self, bay: Bay, clock: FakeClock
    ) -> None:
        sandbox_id = await bay.sandbox()
        response = await bay.client.post(f"/v1/sandboxes/{sandbox_id}/keepalive", headers=AUTH)
        assert response.json() == {"status": "ok"}
        body = (await bay.client.get(f"/v1/sandboxes/{sandbox_id}", headers=AUTH)).json()
        assert body["idle_expires_at"] is not None
        assert body["status"] == "idle"
        assert bay.driver.started == []
