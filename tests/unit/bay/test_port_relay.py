"""The port relay's memory of running sandboxes never opens another owner's sandbox."""

from tests.unit.bay.conftest import AUTH, Bay
from tests.unit.bay.skill_steps import other_owner


async def test_another_owner_never_gets_a_remembered_relay(bay: Bay) -> None:
    sandbox_id = await bay.sandbox()
    started = await bay.client.post(
        f"/v1/sandboxes/{sandbox_id}/shell/exec", json={"command": "true"}, headers=AUTH
    )
    assert started.status_code == 200, started.text
    port = f"/v1/sandboxes/{sandbox_id}/ports/9/"
    # The owner's request opens the relay (so it is remembered); nothing listens on the port.
    owned = await bay.client.get(port, headers=AUTH)
    assert owned.status_code == 502, owned.text

    refused = await bay.client.get(port, headers=await other_owner(bay))

    assert refused.status_code == 404, refused.text
    assert "not found" in refused.text.lower(), refused.text
