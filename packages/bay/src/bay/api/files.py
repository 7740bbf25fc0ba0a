"""Filesystem routes: text files, directories, streamed upload and download."""

from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, UploadFile
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from bay.api.deps import Files, FilesSandbox
from shipyard_protocol.api import DirectoryList, FileContent, FileWrite, StatusOk, UploadResult

router = APIRouter(prefix="/v1/sandboxes/{sandbox_id}/filesystem", tags=["filesystem"])

CHUNK = 1024 * 1024


@router.get("/files")
async def read_file(path: str, sandbox: FilesSandbox, files: Files) -> FileContent:
    return await files.read(sandbox, path)


@router.put("/files")
async def write_file(body: FileWrite, sandbox: FilesSandbox, files: Files) -> StatusOk:
    await files.write(sandbox, body.path, body.content)
    return StatusOk()


@router.delete("/files")
async def delete_file(path: str, sandbox: FilesSandbox, files: Files) -> StatusOk:
    await files.delete(sandbox, path)
    return StatusOk()


@router.get("/directories")
async def list_directory(sandbox: FilesSandbox, files: Files, path: str = ".") -> DirectoryList:
    return await files.list_dir(sandbox, path)


@router.post("/upload")
async def upload_file(
    file: UploadFile, path: Annotated[str, Form()], sandbox: FilesSandbox, files: Files
) -> UploadResult:
    return await files.upload(sandbox, path, _chunks(file))


@router.get("/download", response_class=StreamingResponse)
async def download_file(path: str, sandbox: FilesSandbox, files: Files) -> StreamingResponse:
    download = await files.download(sandbox, path)
    headers = {"Content-Disposition": _attachment(path)}
    if download.size is not None:
        headers["Content-Length"] = str(download.size)
    return StreamingResponse(
        download.chunks(),
        media_type="application/octet-stream",
        headers=headers,
        background=BackgroundTask(download.aclose),
    )


def _attachment(path: str) -> str:
    """An ASCII `filename` for old clients and the exact name as RFC 5987 `filename*`."""
    name = "".join(c for c in path.rstrip("/").rsplit("/", 1)[-1] if c.isprintable())
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


async def _chunks(file: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await file.read(CHUNK):
        yield chunk
