"""`shipyard files ls|cat|put|get|rm`."""

import hashlib
import json
from pathlib import Path

import pytest

from shipyard import Client
from tests.unit.cli.conftest import Shipyard


@pytest.fixture
def big(tmp_path: Path) -> Path:
    path = tmp_path / "big.bin"
    path.write_bytes(bytes(range(256)) * 16_384)
    return path


class TestPutAndGet:
    def test_round_trip_keeps_the_sha256(
        self,
        shipyard: Shipyard,
        sandbox_id: str,
        big: Path,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        put = shipyard("files", "put", big, "-s", sandbox_id)
        assert put.exit_code == 0, put.output
        assert "big.bin" in put.stderr  # the progress bar
        assert put.stdout.endswith("-> big.bin (4194304 bytes)\n")
        monkeypatch.chdir(tmp_path / "..")
        got = shipyard("files", "get", "-s", sandbox_id, "big.bin", tmp_path / "copy.bin")
        assert got.exit_code == 0, got.output
        digest = hashlib.sha256((tmp_path / "copy.bin").read_bytes()).hexdigest()
        assert digest == hashlib.sha256(big.read_bytes()).hexdigest()

    def test_get_defaults_to_the_name_here(
        self,
        shipyard: Shipyard,
        client: Client,
        sandbox_id: str,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        client.sandboxes.get(sandbox_id).files.write("dir/note.txt", "n")
        monkeypatch.chdir(tmp_path)
        result = shipyard("files", "get", "-s", sandbox_id, "dir/note.txt", "--json", "-q")
        assert json.loads(result.stdout) == {"path": "note.txt", "size": 1}
        assert (tmp_path / "note.txt").read_text() == "n"

    def test_put_json_answers_the_upload(
        self, shipyard: Shipyard, sandbox_id: str, big: Path
    ) -> None:
        result = shipyard("files", "put", big, "in/b.bin", "-s", sandbox_id, "--json")
        assert json.loads(result.stdout) == {"status": "ok", "path": "in/b.bin", "size": 4194304}


class TestLsCatRm:
    def test_ls_lists(self, shipyard: Shipyard, client: Client, sandbox_id: str) -> None:
        client.sandboxes.get(sandbox_id).files.write("a.txt", "abc")
        assert "a.txt" in shipyard("files", "ls", "-s", sandbox_id).stdout
        entries = json.loads(shipyard("files", "ls", "-s", sandbox_id, "--json").stdout)["entries"]
        assert [(e["name"], e["size"]) for e in entries] == [("a.txt", 3)]

    def test_cat_prints_the_text(self, shipyard: Shipyard, client: Client, sandbox_id: str) -> None:
        client.sandboxes.get(sandbox_id).files.write("a.txt", "line\n")
        assert shipyard("files", "cat", "-s", sandbox_id, "a.txt").stdout == "line\n"
        shown = json.loads(shipyard("files", "cat", "-s", sandbox_id, "a.txt", "--json").stdout)
        assert shown == {"path": "a.txt", "content": "line\n"}

    def test_rm_removes(self, shipyard: Shipyard, client: Client, sandbox_id: str) -> None:
        client.sandboxes.get(sandbox_id).files.write("gone.txt", "")
        assert shipyard("files", "rm", "-s", sandbox_id, "gone.txt").stdout == "removed gone.txt\n"
        client.sandboxes.get(sandbox_id).files.write("gone.txt", "")
        removed = shipyard("files", "rm", "-s", sandbox_id, "gone.txt", "--json").stdout
        assert json.loads(removed) == {"path": "gone.txt", "deleted": True}
        missing = shipyard("files", "cat", "-s", sandbox_id, "gone.txt")
        assert (missing.exit_code, "[file_not_found]" in missing.stderr) == (1, True)
