"""`sandbox.files`: text files, directories and streamed transfers, on Bay in-process."""

import hashlib
import io
from pathlib import Path

import pytest

from shipyard import AsyncClient, AsyncSandbox, FileNotFoundInSandboxError, InvalidPathError


@pytest.fixture
async def sandbox(aclient: AsyncClient) -> AsyncSandbox:
    return await aclient.sandboxes.create()


class TestText:
    async def test_write_then_read(self, sandbox: AsyncSandbox) -> None:
        await sandbox.files.write("notes/a.txt", "héllo")
        assert await sandbox.files.read("notes/a.txt") == "héllo"

    async def test_list_shows_directories_first(self, sandbox: AsyncSandbox) -> None:
        await sandbox.files.write("b.txt", "12")
        await sandbox.files.write("a/x.txt", "")
        entries = await sandbox.files.list()
        assert [(e.name, e.is_dir, e.size) for e in entries] == [
            ("a", True, None),
            ("b.txt", False, 2),
        ]

    async def test_delete_removes_a_directory(self, sandbox: AsyncSandbox) -> None:
        await sandbox.files.write("d/x.txt", "")
        await sandbox.files.delete("d")
        assert await sandbox.files.list() == []

    async def test_missing_file_raises(self, sandbox: AsyncSandbox) -> None:
        with pytest.raises(FileNotFoundInSandboxError):
            await sandbox.files.read("nope.txt")

    async def test_absolute_path_raises(self, sandbox: AsyncSandbox) -> None:
        with pytest.raises(InvalidPathError):
            await sandbox.files.read("/etc/passwd")


class TestUpload:
    async def test_from_a_path_with_progress(self, sandbox: AsyncSandbox, tmp_path: Path) -> None:
        local = tmp_path / "big.bin"
        local.write_bytes(bytes(range(256)) * 12_000)
        seen: list[tuple[int, int | None]] = []
        result = await sandbox.files.upload(
            "in/big.bin", local, progress=lambda d, t: seen.append((d, t))
        )
        assert (result.path, result.size) == ("in/big.bin", 3_072_000)
        assert seen[-1] == (3_072_000, 3_072_000)
        assert len(seen) > 1

    async def test_from_bytes(self, sandbox: AsyncSandbox) -> None:
        await sandbox.files.upload("b.txt", b"bytes")
        assert await sandbox.files.read("b.txt") == "bytes"

    async def test_from_a_file_object(self, sandbox: AsyncSandbox) -> None:
        await sandbox.files.upload("f.txt", io.BytesIO(b"object"))
        assert await sandbox.files.read("f.txt") == "object"


class TestDownload:
    async def test_to_a_path_keeps_every_byte(self, sandbox: AsyncSandbox, tmp_path: Path) -> None:
        payload = bytes(range(256)) * 9_000
        await sandbox.files.upload("data.bin", payload)
        seen: list[int] = []
        written = await sandbox.files.download(
            "data.bin", tmp_path / "copy.bin", progress=lambda d, t: seen.append(d)
        )
        copy = (tmp_path / "copy.bin").read_bytes()
        assert hashlib.sha256(copy).digest() == hashlib.sha256(payload).digest()
        assert written == len(payload) == seen[-1]

    async def test_to_a_file_object(self, sandbox: AsyncSandbox) -> None:
        await sandbox.files.write("t.txt", "text")
        sink = io.BytesIO()
        await sandbox.files.download("t.txt", sink)
        assert sink.getvalue() == b"text"

    async def test_missing_file_leaves_no_local_file(
        self, sandbox: AsyncSandbox, tmp_path: Path
    ) -> None:
        with pytest.raises(FileNotFoundInSandboxError):
            await sandbox.files.download("missing.bin", tmp_path / "out.bin")
        assert not (tmp_path / "out.bin").exists()
