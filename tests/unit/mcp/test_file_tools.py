"""read_file, write_file, list_files, delete_file, upload_file and download_file."""

import hashlib
from pathlib import Path

import pytest
from mcp.server.mcpserver import MCPServer

from tests.unit.mcp.conftest import IN_PACKAGE_LOOP, ServerWith, call, local

pytestmark = IN_PACKAGE_LOOP


class TestTextFiles:
    async def test_write_read_list_delete(self, server: MCPServer, sandbox_id: str) -> None:
        wrote = await call(
            server, "write_file", sandbox_id=sandbox_id, path="a/b.txt", content="hé"
        )
        assert wrote == "Wrote 3 bytes to a/b.txt"
        assert await call(server, "read_file", sandbox_id=sandbox_id, path="a/b.txt") == "hé"
        assert await call(server, "list_files", sandbox_id=sandbox_id) == ".:\na/"
        assert (
            await call(server, "list_files", sandbox_id=sandbox_id, path="a")
            == "a:\nb.txt (3 bytes)"
        )
        assert await call(server, "delete_file", sandbox_id=sandbox_id, path="a") == "Deleted a"
        assert await call(server, "list_files", sandbox_id=sandbox_id) == ".: empty"

    async def test_missing_file_is_an_api_error(self, server: MCPServer, sandbox_id: str) -> None:
        answer = await call(server, "read_file", sandbox_id=sandbox_id, path="nope.txt")
        assert answer.startswith("**API Error:** [file_not_found]")

    @pytest.mark.parametrize("path", ["/etc/passwd", "a/../../b", ""])
    async def test_paths_outside_the_workspace_are_refused(
        self, server: MCPServer, sandbox_id: str, path: str
    ) -> None:
        answer = await call(server, "read_file", sandbox_id=sandbox_id, path=path)
        assert answer.startswith("**Error:** path must be")

    async def test_write_over_the_limit_is_refused(
        self, server_with: ServerWith, sandbox_id: str
    ) -> None:
        server = server_with(max_write_bytes=4)
        answer = await call(server, "write_file", sandbox_id=sandbox_id, path="x", content="12345")
        assert answer == "**Error:** content is 5 bytes; the limit is 4"


class TestTransfers:
    async def test_upload_then_download_keeps_every_byte(
        self, server: MCPServer, sandbox_id: str, tmp_path: Path
    ) -> None:
        source = local(tmp_path, "blob.bin", bytes(range(256)) * 4096)
        up = await call(server, "upload_file", sandbox_id=sandbox_id, local_path=str(source))
        assert up == f"Uploaded {source} to blob.bin (1048576 bytes)"
        target = tmp_path / "copy.bin"
        down = await call(
            server,
            "download_file",
            sandbox_id=sandbox_id,
            sandbox_path="blob.bin",
            local_path=str(target),
        )
        assert down == f"Downloaded blob.bin to {target} (1048576 bytes)"
        assert (
            hashlib.sha256(target.read_bytes()).digest()
            == hashlib.sha256(source.read_bytes()).digest()
        )

    async def test_download_defaults_to_the_working_directory(
        self, server: MCPServer, sandbox_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        await call(server, "write_file", sandbox_id=sandbox_id, path="d/n.txt", content="n")
        monkeypatch.chdir(tmp_path)
        await call(server, "download_file", sandbox_id=sandbox_id, sandbox_path="d/n.txt")
        assert (tmp_path / "n.txt").read_text() == "n"

    async def test_upload_to_a_chosen_path(
        self, server: MCPServer, sandbox_id: str, tmp_path: Path
    ) -> None:
        source = local(tmp_path, "s.txt", b"s")
        await call(
            server,
            "upload_file",
            sandbox_id=sandbox_id,
            local_path=str(source),
            sandbox_path="in/t.txt",
        )
        assert await call(server, "read_file", sandbox_id=sandbox_id, path="in/t.txt") == "s"

    async def test_missing_local_file_is_refused(
        self, server: MCPServer, sandbox_id: str, tmp_path: Path
    ) -> None:
        answer = await call(
            server, "upload_file", sandbox_id=sandbox_id, local_path=str(tmp_path / "none")
        )
        assert answer.startswith("**Error:** local_path")

    async def test_transfers_over_the_limit_are_refused(
        self, server_with: ServerWith, sandbox_id: str, tmp_path: Path
    ) -> None:
        server = server_with(max_transfer_bytes=10)
        source = local(tmp_path, "big.bin", b"x" * 11)
        refused = await call(server, "upload_file", sandbox_id=sandbox_id, local_path=str(source))
        assert refused.endswith("is over the 10-byte transfer limit")
        await call(server, "write_file", sandbox_id=sandbox_id, path="big.txt", content="y" * 11)
        target = tmp_path / "partial.bin"
        answer = await call(
            server,
            "download_file",
            sandbox_id=sandbox_id,
            sandbox_path="big.txt",
            local_path=str(target),
        )
        assert answer == "**Error:** the file is over the 10-byte transfer limit"
        assert not target.exists()
