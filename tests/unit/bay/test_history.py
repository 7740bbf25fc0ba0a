"""Execution history: list, filters, last, get and annotate."""

from tests.unit.bay.conftest import AUTH, Bay, FakeClock


async def run(bay: Bay, sandbox_id: str, kind: str, text: str, **extra: object) -> str:
    field = "code" if kind == "python" else "command"
    response = await bay.client.post(
        f"/v1/sandboxes/{sandbox_id}/{kind}/exec", json={field: text, **extra}, headers=AUTH
    )
    return str(response.json()["execution_id"])


class TestHistory:
    async def test_lists_newest_first_with_total(self, bay: Bay, clock: FakeClock) -> None:
        sandbox_id = await bay.sandbox()
        first = await run(bay, sandbox_id, "python", "1")
        clock.advance(1)
        second = await run(bay, sandbox_id, "shell", "echo hi")
        body = (await bay.client.get(f"/v1/sandboxes/{sandbox_id}/history", headers=AUTH)).json()
        assert body["total"] == 2
        assert [e["id"] for e in body["entries"]] == [second, first]
        assert body["entries"][0]["exec_type"] == "shell"
        assert body["entries"][0]["code"] == "echo hi"

    async def test_filters_by_type_success_and_tags(self, bay: Bay) -> None:
        sandbox_id = await bay.sandbox()
        ok = await run(bay, sandbox_id, "python", "1", tags="beta, alpha")
        await run(bay, sandbox_id, "python", "1/0")
        await run(bay, sandbox_id, "shell", "true")
        base = f"/v1/sandboxes/{sandbox_id}/history"
        only_ok = await bay.client.get(
            base, params={"exec_type": "python", "success_only": "true"}, headers=AUTH
        )
        assert [e["id"] for e in only_ok.json()["entries"]] == [ok]
        tagged = await bay.client.get(base, params={"tags": "ALP"}, headers=AUTH)
        assert [e["tags"] for e in tagged.json()["entries"]] == ["alpha,beta"]

    async def test_output_with_a_nul_byte_is_answered_and_kept(self, bay: Bay) -> None:
        """PostgreSQL's text cannot hold U+0000: there the record keeps U+FFFD instead."""
        sandbox_id = await bay.sandbox()
        response = await bay.client.post(
            f"/v1/sandboxes/{sandbox_id}/shell/exec",
            json={"command": "printf 'a\\0b'", "description": "nul \u0000 here"},
            headers=AUTH,
        )
        assert response.status_code == 200, response.text
        assert response.json()["output"] == "a\x00b"
        last = await bay.client.get(f"/v1/sandboxes/{sandbox_id}/history/last", headers=AUTH)
        assert last.json()["output"] in ("a\x00b", "a\ufffdb")

    async def test_bad_exec_type_is_422(self, bay: Bay) -> None:
        sandbox_id = await bay.sandbox()
        response = await bay.client.get(
            f"/v1/sandboxes/{sandbox_id}/history?exec_type=filesystem", headers=AUTH
        )
        assert response.status_code == 422

    async def test_last_get_and_annotate(self, bay: Bay) -> None:
        sandbox_id = await bay.sandbox()
        base = f"/v1/sandboxes/{sandbox_id}/history"
        assert (await bay.client.get(f"{base}/last", headers=AUTH)).status_code == 404
        execution_id = await run(bay, sandbox_id, "python", "2")
        last = (await bay.client.get(f"{base}/last", headers=AUTH)).json()
        assert last["id"] == execution_id
        patched = await bay.client.patch(
            f"{base}/{execution_id}", json={"notes": "good", "tags": "b,a"}, headers=AUTH
        )
        assert (patched.json()["notes"], patched.json()["tags"]) == ("good", "a,b")
        one = (await bay.client.get(f"{base}/{execution_id}", headers=AUTH)).json()
        assert one["notes"] == "good"
        noted = await bay.client.get(base, params={"has_notes": "true"}, headers=AUTH)
        assert noted.json()["total"] == 1

    async def test_unknown_execution_is_404(self, bay: Bay) -> None:
        sandbox_id = await bay.sandbox()
        response = await bay.client.get(
            f"/v1/sandboxes/{sandbox_id}/history/exec-000000000000", headers=AUTH
        )
        assert response.status_code == 404
