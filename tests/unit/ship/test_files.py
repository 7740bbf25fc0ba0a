"""Files in the workspace: text, listings, deletes, streamed upload and download, the jail."""

import errno
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from ship.errors import QuotaExceededError
from ship.files import TEXT_READ_LIMIT, os_errors

MIB = 1024 * 1024


def error_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


class TestText:
    async def test_write_then_read(self, client: httpx.AsyncClient, workspace: Path) -> None:
        written = await client.put("/files", json={"path": "a/b/c.txt", "content": "héllo"})
        read = await client.get("/files", params={"path": "a/b/c.txt"})

        assert written.json() == {"path": "a/b/c.txt", "size": 6}
        assert read.json() == {"path": "a/b/c.txt", "content": "héllo"}
        assert (workspace / "a/b/c.txt").read_text() == "héllo"

    async def test_write_overwrites(self, client: httpx.AsyncClient, workspace: Path) -> None:
        (workspace / "a.txt").write_text("a much longer old text")

        await client.put("/files", json={"path": "a.txt", "content": "new"})

        assert (workspace / "a.txt").read_text() == "new"

    async def test_missing_file_is_not_found(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/files", params={"path": "missing.txt"})

        assert error_of(response) == (404, "file_not_found")

    async def test_directory_is_not_a_file(
        self, client: httpx.AsyncClient, workspace: Path
    ) -> None:
        (workspace / "dir").mkdir()

        response = await client.get("/files", params={"path": "dir"})

        assert error_of(response) == (400, "validation_error")

    async def test_non_utf8_text_is_rejected(
        self, client: httpx.AsyncClient, workspace: Path
    ) -> None:
        (workspace / "bin.dat").write_bytes(b"\xff\xfe\x00")

        response = await client.get("/files", params={"path": "bin.dat"})

        assert error_of(response) == (400, "validation_error")

    async def test_a_file_too_large_for_one_answer_says_to_download_it(
        self, client: httpx.AsyncClient, workspace: Path
    ) -> None:
        (workspace / "big.txt").write_bytes(b"x" * (TEXT_READ_LIMIT + 1))
        (workspace / "edge.txt").write_bytes(b"y" * TEXT_READ_LIMIT)

        response = await client.get("/files", params={"path": "big.txt"})

        assert error_of(response) == (400, "validation_error")
        assert "download" in response.json()["error"]["message"]
        edge = await client.get("/files", params={"path": "edge.txt"})
        assert len(edge.json()["content"]) == TEXT_READ_LIMIT


class TestList:
    async def test_directories_first_then_names_without_hidden(
        self, client: httpx.AsyncClient, workspace: Path
    ) -> None:
        for name in ("b.txt", "A.txt", ".hidden"):
            (workspace / "sub" / name).parent.mkdir(exist_ok=True)
            (workspace / "sub" / name).write_text("12345")
        (workspace / "sub" / "zdir").mkdir()

        response = await client.get("/directories", params={"path": "sub"})

        entries = response.json()["entries"]
        assert [e["name"] for e in entries] == ["zdir", "A.txt", "b.txt"]
        assert entries[0]["is_dir"] is True
        assert entries[0]["size"] is None
        assert entries[1]["path"] == f"{workspace}/sub/A.txt"
        assert (entries[1]["is_file"], entries[1]["size"]) == (True, 5)

    async def test_root_listing(self, client: httpx.AsyncClient, workspace: Path) -> None:
        (workspace / "top.txt").write_text("x")

        response = await client.get("/directories", params={"path": "."})

        assert [e["path"] for e in response.json()["entries"]] == [f"{workspace}/top.txt"]

    async def test_listing_a_file_is_rejected(
        self, client: httpx.AsyncClient, workspace: Path
    ) -> None:
        (workspace / "top.txt").write_text("x")

        response = await client.get("/directories", params={"path": "top.txt"})

        assert error_of(response) == (400, "validation_error")


class TestDelete:
    async def test_file(self, client: httpx.AsyncClient, workspace: Path) -> None:
        (workspace / "a.txt").write_text("x")

        response = await client.delete("/files", params={"path": "a.txt"})

        assert response.json() == {"path": "a.txt", "size": 0}
        assert not (workspace / "a.txt").exists()

    async def test_directory_recursively(self, client: httpx.AsyncClient, workspace: Path) -> None:
        (workspace / "d" / "e").mkdir(parents=True)
        (workspace / "d" / "e" / "f.txt").write_text("x")

        response = await client.delete("/files", params={"path": "d"})

        assert response.status_code == 200
        assert not (workspace / "d").exists()

    async def test_symlink_inside_removes_only_the_link(
        self, client: httpx.AsyncClient, workspace: Path
    ) -> None:
        (workspace / "real").mkdir()
        (workspace / "real" / "keep.txt").write_text("x")
        (workspace / "link").symlink_to(workspace / "real")

        response = await client.delete("/files", params={"path": "link"})

        assert response.status_code == 200
        assert not (workspace / "link").exists()
        assert (workspace / "real" / "keep.txt").exists()

    async def test_missing_is_not_found(self, client: httpx.AsyncClient) -> None:
        response = await client.delete("/files", params={"path": "missing"})

        assert error_of(response) == (404, "file_not_found")

    async def test_workspace_root_is_refused(
        self, client: httpx.AsyncClient, workspace: Path
    ) -> None:
        response = await client.delete("/files", params={"path": "."})

        assert error_of(response) == (400, "invalid_path")
        assert workspace.is_dir()


class TestJail:
    @pytest.fixture
    def outside(self, tmp_path: Path, workspace: Path) -> Path:
        secret = tmp_path / "outside"
        secret.mkdir()
        (secret / "secret.txt").write_text("secret")
        (workspace / "escape").symlink_to(secret)
        return secret

    @pytest.mark.parametrize(
        ("method", "url", "params", "body"),
        [
            ("GET", "/files", {"path": "escape/secret.txt"}, None),
            ("PUT", "/files", None, {"path": "escape/new.txt", "content": "x"}),
            ("GET", "/directories", {"path": "escape"}, None),
            ("GET", "/download", {"path": "escape/secret.txt"}, None),
            ("PUT", "/upload", {"path": "escape/new.bin"}, None),
            ("DELETE", "/files", {"path": "escape/secret.txt"}, None),
            ("DELETE", "/files", {"path": "escape"}, None),
        ],
    )
    async def test_symlink_out_of_the_workspace_is_rejected(
        self,
        client: httpx.AsyncClient,
        outside: Path,
        method: str,
        url: str,
        params: dict[str, str] | None,
        body: dict[str, str] | None,
    ) -> None:
        response = await client.request(method, url, params=params, json=body)

        assert error_of(response) == (400, "invalid_path")
        assert response.json()["error"]["details"]["reason"] == "outside_workspace"
        assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]

    @pytest.mark.parametrize(
        ("path", "reason"),
        [("../x", "outside_workspace"), ("/etc/passwd", "absolute_path"), ("a\x00b", "nul_byte")],
    )
    async def test_bad_paths_are_rejected(
        self, client: httpx.AsyncClient, path: str, reason: str
    ) -> None:
        response = await client.get("/files", params={"path": path})

        assert error_of(response) == (400, "invalid_path")
        assert response.json()["error"]["details"]["reason"] == reason


class TestStreaming:
    async def test_upload_then_download_a_few_megabytes(
        self, client: httpx.AsyncClient, workspace: Path
    ) -> None:
        payload = os.urandom(3 * MIB + 123)

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(payload), 256 * 1024):
                yield payload[start : start + 256 * 1024]

        uploaded = await client.put("/upload", params={"path": "deep/blob.bin"}, content=chunks())
        async with client.stream("GET", "/download", params={"path": "deep/blob.bin"}) as stream:
            received = b"".join([chunk async for chunk in stream.aiter_bytes()])
            media_type = stream.headers["content-type"]

        assert uploaded.json() == {"path": "deep/blob.bin", "size": len(payload)}
        assert received == payload
        assert media_type == "application/octet-stream"
        assert [p.name for p in (workspace / "deep").iterdir()] == ["blob.bin"]

    async def test_upload_replaces_an_existing_file(
        self, client: httpx.AsyncClient, workspace: Path
    ) -> None:
        (workspace / "f.bin").write_bytes(b"old and longer")

        response = await client.put("/upload", params={"path": "f.bin"}, content=b"new")

        assert response.json()["size"] == 3
        assert (workspace / "f.bin").read_bytes() == b"new"

    async def test_upload_onto_a_directory_is_rejected(
        self, client: httpx.AsyncClient, workspace: Path
    ) -> None:
        (workspace / "dir").mkdir()

        response = await client.put("/upload", params={"path": "dir"}, content=b"x")

        assert error_of(response) == (400, "validation_error")

    async def test_download_missing_is_not_found(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/download", params={"path": "nope.bin"})

        assert error_of(response) == (404, "file_not_found")


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_no_space_is_quota_exceeded(code: int) -> None:
    with pytest.raises(QuotaExceededError) as caught, os_errors("big.bin"):
        raise OSError(code, os.strerror(code))

    assert caught.value.status == 429
    assert caught.value.body()["error"]["code"] == "quota_exceeded"
