"""Files in the workspace: text read/write, listing, delete, streamed upload and download."""

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from ship.api.deps import WorkspaceDep
from shipyard_protocol.ship import DirectoryListing, FileText, FileWritten

router = APIRouter()

_ERRORS: dict[int | str, dict[str, str]] = {
    400: {"description": "invalid_path or validation_error"},
    404: {"description": "file_not_found"},
    429: {"description": "quota_exceeded"},
}


@router.get("/files", responses=_ERRORS)
def read(path: str, workspace: WorkspaceDep) -> FileText:
    return FileText(path=path, content=workspace.read_text(path))


@router.put("/files", responses=_ERRORS)
def write(text: FileText, workspace: WorkspaceDep) -> FileWritten:
    return FileWritten(path=text.path, size=workspace.write_text(text.path, text.content))


@router.delete("/files", responses=_ERRORS)
def delete(path: str, workspace: WorkspaceDep) -> FileWritten:
    workspace.delete(path)
    return FileWritten(path=path)


@router.get("/directories", responses=_ERRORS)
def list_directory(workspace: WorkspaceDep, path: str = ".") -> DirectoryListing:
    return DirectoryListing(entries=workspace.list_dir(path))


@router.put("/upload", responses=_ERRORS)
async def upload(path: str, request: Request, workspace: WorkspaceDep) -> FileWritten:
    size = await workspace.upload(path, request.stream())
    return FileWritten(path=path, size=size)


@router.get("/download", response_class=FileResponse, responses=_ERRORS)
def download(path: str, workspace: WorkspaceDep) -> FileResponse:
    return FileResponse(workspace.file(path), media_type="application/octet-stream")
