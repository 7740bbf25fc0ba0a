"""Steps the skills tests share: an execution, a candidate, an evaluated one, a release."""

from typing import Any

from tests.unit.bay.conftest import AUTH, Bay


async def execution(
    bay: Bay, sandbox_id: str, ok: bool = True, tags: str | None = None, headers: Any = None
) -> str:
    body: dict[str, Any] = {"command": "true" if ok else "false"}
    if tags:
        body["tags"] = tags
    response = await bay.client.post(
        f"/v1/sandboxes/{sandbox_id}/shell/exec", json=body, headers=headers or AUTH
    )
    assert response.status_code == 200, response.text
    return str(response.json()["execution_id"])


async def candidate(bay: Bay, skill_key: str = "login", **fields: Any) -> dict[str, Any]:
    if "source_execution_ids" not in fields:
        fields["source_execution_ids"] = [await execution(bay, await bay.sandbox())]
    response = await bay.client.post(
        "/v1/skills/candidates", json={"skill_key": skill_key, **fields}, headers=AUTH
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def evaluate(bay: Bay, candidate_id: str, passed: bool = True, **fields: Any) -> Any:
    response = await bay.client.post(
        f"/v1/skills/candidates/{candidate_id}/evaluate",
        json={"passed": passed, **fields},
        headers=AUTH,
    )
    assert response.status_code == 200, response.text
    return response.json()


async def release(bay: Bay, skill_key: str = "login", stage: str = "canary") -> dict[str, Any]:
    """A passing candidate of `skill_key`, promoted."""
    made = await candidate(bay, skill_key)
    await evaluate(bay, made["id"], score=0.9)
    response = await bay.client.post(
        f"/v1/skills/candidates/{made['id']}/promote", json={"stage": stage}, headers=AUTH
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def other_owner(bay: Bay, owner: str = "mallory") -> dict[str, str]:
    """Headers of a key that belongs to another owner."""
    created = await bay.client.post("/v1/admin/keys", json={"owner": owner}, headers=AUTH)
    assert created.status_code == 201, created.text
    return {"Authorization": f"Bearer {created.json()['api_key']}"}
