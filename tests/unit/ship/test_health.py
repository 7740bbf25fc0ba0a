"""GET /health."""

import httpx


async def test_health_answers_ok_before_any_kernel(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["version"]
    assert body["kernel_generation"] == 0
