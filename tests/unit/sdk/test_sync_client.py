"""The synchronous `Client` over real HTTP: Bay served by uvicorn in a thread."""

import hashlib
from pathlib import Path

import pytest

from shipyard import Client, ConflictError, NotFoundError


class TestSandboxes:
    def test_lifecycle(self, client: Client) -> None:
        with client.sandboxes.create(ttl=600) as sandbox:
            assert client.sandboxes.get(sandbox.id).id == sandbox.id
            assert sandbox.id in {item.id for item in client.sandboxes.list().items}
            assert sandbox.extend_ttl(60).expires_at is not None
            sandbox.keepalive()
            sandbox.stop()
            assert sandbox.refresh().id == sandbox.id
        with pytest.raises(NotFoundError):
            client.sandboxes.get(sandbox.id)


class TestExecs:
    def test_python_then_shell(self, client: Client) -> None:
        with client.sandboxes.create() as sandbox:
            assert sandbox.python.run("print(2**10)").output == "1024"
            assert sandbox.shell.run("exit 7").exit_code == 7
            assert sandbox.history.last(exec_type="python").code == "print(2**10)"


class TestFiles:
    def test_text_and_streamed_transfers(self, client: Client, tmp_path: Path) -> None:
        local = tmp_path / "big.bin"
        local.write_bytes(b"\x00\xff" * 1_500_000)
        with client.sandboxes.create() as sandbox:
            sandbox.files.write("a.txt", "text")
            assert sandbox.files.read("a.txt") == "text"
            assert sandbox.files.upload("big.bin", local).size == 3_000_000
            assert sandbox.files.download("big.bin", tmp_path / "copy.bin") == 3_000_000
            assert [e.name for e in sandbox.files.list()] == ["a.txt", "big.bin"]
            sandbox.files.delete("a.txt")
        digest = hashlib.sha256((tmp_path / "copy.bin").read_bytes()).hexdigest()
        assert digest == hashlib.sha256(local.read_bytes()).hexdigest()


class TestHistory:
    def test_list_get_annotate(self, client: Client) -> None:
        with client.sandboxes.create() as sandbox:
            ran = sandbox.shell.run("echo hi", tags="sync")
            assert sandbox.history.list(tags="sync").total == 1
            assert sandbox.history.get(ran.execution_id).output == "hi"
            assert sandbox.history.annotate(ran.execution_id, notes="n").notes == "n"


class TestCargos:
    def test_create_get_list_delete(self, client: Client) -> None:
        cargo = client.cargos.create(size_limit_mb=5)
        assert client.cargos.get(cargo.id).size_limit_mb == 5
        assert cargo.id in {c.id for c in client.cargos.list().items}
        with client.sandboxes.create(cargo_id=cargo.id), pytest.raises(ConflictError):
            client.cargos.delete(cargo.id)
        client.cargos.delete(cargo.id)


class TestAdmin:
    def test_profiles_keys_gc_health(self, client: Client) -> None:
        assert "python-default" in {p.id for p in client.profiles.list().items}
        key = client.admin.keys.create("bob", admin=True)
        assert key.id in {k.id for k in client.admin.keys.list().items}
        client.admin.keys.revoke(key.id)
        assert client.admin.gc.run().total_errors == 0
        assert client.admin.gc.status().enabled is False
        assert client.health().status == "ok"


def test_endpoint_and_key_fall_back_to_env(live_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPYARD_ENDPOINT", live_url)
    monkeypatch.setenv("SHIPYARD_API_KEY", "sk-test-admin")
    with Client() as client:
        assert client.sandboxes.list(limit=1) is not None
