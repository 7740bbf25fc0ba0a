"""The filesystem endpoints through Bay."""

import pytest

from tests.unit.bay.conftest import AUTH, Bay


class TestTextFiles:
    async def test_write_read_list_delete(self, bay: Bay) -> None:
        base = f"/v1/sandboxes/{await bay.sandbox()}/filesystem"
        written = await bay.client.put(
            f"{base}/files", json={"path": "dir/a.txt", "content": "héllo"}, headers=AUTH
        )
        assert written.json() == {"status": "ok"}
        read = await bay.client.get(f"{base}/files", params={"path": "dir/a.txt"}, headers=AUTH)
        assert read.json() == {"content": "héllo"}
        listing = await bay.client.get(f"{base}/directories", params={"path": "dir"}, headers=AUTH)
        entry = listing.json()["entries"][0]
        assert (entry["name"], entry["is_dir"], entry["size"]) == ("a.txt", False, 6)
        assert entry["path"].endswith("/dir/a.txt")
        deleted = await bay.client.delete(f"{base}/files", params={"path": "dir"}, headers=AUTH)
        assert deleted.json() == {"status": "ok"}
        gone = await bay.client.get(f"{base}/files", params={"path": "dir/a.txt"}, headers=AUTH)
        assert gone.status_code == 404

    @pytest.mark.parametrize("method", ["get", "delete"])
    async def test_missing_file_is_404_file_not_found(self, bay: Bay, method: str) -> None:
        base = f"/v1/sandboxes/{await bay.sandbox()}/filesystem"
        response = await getattr(bay.client, method)(
            f"{base}/files", params={"path": "nope.txt"}, headers=AUTH
        )
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "file_not_found"

    async def test_reading_a_directory_is_400(self, bay: Bay) -> None:
        base = f"/v1/sandboxes/{await bay.sandbox()}/filesystem"
        response = await bay.client.get(f"{base}/files", params={"path": "."}, headers=AUTH)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "validation_error"

    @pytest.mark.parametrize(
        ("path", "reason"),
        [
            ("/etc/passwd", "absolute_path"),
            ("/workspacex/a", "absolute_path"),
            ("/workspace/../etc/passwd", "path_traversal"),
            ("../x", "path_traversal"),
            ("a\x00b", "null_byte"),
        ],
    )
    async def test_bad_paths_are_400_invalid_path(self, bay: Bay, path: str, reason: str) -> None:
        base = f"/v1/sandboxes/{await bay.sandbox()}/filesystem"
        response = await bay.client.get(f"{base}/files", params={"path": path}, headers=AUTH)
        assert response.status_code == 400
        assert response.json()["error"]["details"] == {"field": "path", "reason": reason}

    async def test_absolute_paths_inside_the_workspace_are_taken(self, bay: Bay) -> None:
        """What the API answers (`/workspace/...`) it takes back, as a path and as a cwd."""
        sandbox_id = await bay.sandbox()
        base = f"/v1/sandboxes/{sandbox_id}/filesystem"
        written = await bay.client.put(
            f"{base}/files", json={"path": "/workspace/sub/n.txt", "content": "hi"}, headers=AUTH
        )
        assert written.status_code == 200, written.text
        listed = await bay.client.get(
            f"{base}/directories", params={"path": "/workspace/sub"}, headers=AUTH
        )
        assert [entry["name"] for entry in listed.json()["entries"]] == ["n.txt"]
        read = await bay.client.get(
            f"{base}/files", params={"path": "/workspace/sub/n.txt"}, headers=AUTH
        )
        assert read.json()["content"] == "hi", read.text
        shell = await bay.client.post(
            f"/v1/sandboxes/{sandbox_id}/shell/exec",
            json={"command": "cat n.txt", "cwd": "/workspace/sub"},
            headers=AUTH,
        )
        assert shell.json()["output"] == "hi", shell.text

    async def test_symlink_out_of_the_workspace_is_refused(self, bay: Bay) -> None:
        sandbox_id = await bay.sandbox()
        await bay.client.post(
            f"/v1/sandboxes/{sandbox_id}/shell/exec",
            json={"command": "ln -s /etc escape"},
            headers=AUTH,
        )
        response = await bay.client.get(
            f"/v1/sandboxes/{sandbox_id}/filesystem/files",
            params={"path": "escape/hostname"},
            headers=AUTH,
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_path"


class TestTransfers:
    async def test_upload_then_download_round_trips(self, bay: Bay) -> None:
        base = f"/v1/sandboxes/{await bay.sandbox()}/filesystem"
        payload = bytes(range(256)) * 4096
        uploaded = await bay.client.post(
            f"{base}/upload",
            files={"file": ("upload", payload)},
            data={"path": "bin/data.bin"},
            headers=AUTH,
        )
        assert uploaded.json() == {"status": "ok", "path": "bin/data.bin", "size": len(payload)}
        downloaded = await bay.client.get(
            f"{base}/download", params={"path": "bin/data.bin"}, headers=AUTH
        )
        assert downloaded.content == payload
        assert downloaded.headers["content-type"] == "application/octet-stream"
        assert 'filename="data.bin"' in downloaded.headers["content-disposition"]

    async def test_download_of_missing_file_is_404(self, bay: Bay) -> None:
        base = f"/v1/sandboxes/{await bay.sandbox()}/filesystem"
        response = await bay.client.get(f"{base}/download", params={"path": "no"}, headers=AUTH)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "file_not_found"
