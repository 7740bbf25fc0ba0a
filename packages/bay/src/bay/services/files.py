"""File operations on a sandbox's cargo, through its running Ship."""

from collections.abc import AsyncIterable

from bay.services.capabilities import SandboxRef
from bay.services.paths import normalize_path
from bay.services.sessions import SessionService
from bay.ship_client import ShipDownload
from bay.ship_session import SessionShip
from shipyard_protocol.api import DirectoryList, FileContent, FileInfo, UploadResult


class FileService:
    def __init__(self, sessions: SessionService) -> None:
        self._sessions = sessions

    async def read(self, sandbox: SandboxRef, path: str) -> FileContent:
        path = normalize_path(path)
        ship = await self._ship_of(sandbox)
        text = await ship.read_file(path)
        return FileContent(content=text.content)

    async def write(self, sandbox: SandboxRef, path: str, content: str) -> None:
        path = normalize_path(path)
        ship = await self._ship_of(sandbox)
        await ship.write_file(path, content)

    async def delete(self, sandbox: SandboxRef, path: str) -> None:
        path = normalize_path(path)
        ship = await self._ship_of(sandbox)
        await ship.delete(path)

    async def list_dir(self, sandbox: SandboxRef, path: str) -> DirectoryList:
        path = normalize_path(path)
        ship = await self._ship_of(sandbox)
        listing = await ship.list_dir(path)
        return DirectoryList(entries=[FileInfo(**e.model_dump()) for e in listing.entries])

    async def upload(
        self, sandbox: SandboxRef, path: str, chunks: AsyncIterable[bytes]
    ) -> UploadResult:
        path = normalize_path(path)
        ship = await self._ship_of(sandbox)
        written = await ship.upload(path, chunks)
        return UploadResult(path=path, size=written.size)

    async def download(self, sandbox: SandboxRef, path: str) -> ShipDownload:
        path = normalize_path(path)
        ship = await self._ship_of(sandbox)
        return await ship.download(path)

    async def _ship_of(self, sandbox: SandboxRef) -> SessionShip:
        return (await self._sessions.ensure_running(sandbox.id)).ship
