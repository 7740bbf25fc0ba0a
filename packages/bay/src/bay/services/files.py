"""File operations on a sandbox's cargo, through its running Ship."""

from collections.abc import AsyncIterable

from bay.db.models import Sandbox
from bay.services.paths import normalize_path
from bay.services.sessions import SessionService
from bay.services.ship_errors import mapped_ship_errors
from bay.ship_client import ShipClient, ShipDownload
from shipyard_protocol.api import DirectoryList, FileContent, FileInfo, UploadResult


class FileService:
    def __init__(self, sessions: SessionService, ship: ShipClient) -> None:
        self._sessions = sessions
        self._ship = ship

    async def read(self, sandbox: Sandbox, path: str) -> FileContent:
        path = normalize_path(path)
        endpoint = await self._endpoint(sandbox)
        with mapped_ship_errors():
            text = await self._ship.read_file(endpoint, path)
        return FileContent(content=text.content)

    async def write(self, sandbox: Sandbox, path: str, content: str) -> None:
        path = normalize_path(path)
        endpoint = await self._endpoint(sandbox)
        with mapped_ship_errors():
            await self._ship.write_file(endpoint, path, content)

    async def delete(self, sandbox: Sandbox, path: str) -> None:
        path = normalize_path(path)
        endpoint = await self._endpoint(sandbox)
        with mapped_ship_errors():
            await self._ship.delete(endpoint, path)

    async def list_dir(self, sandbox: Sandbox, path: str) -> DirectoryList:
        path = normalize_path(path)
        endpoint = await self._endpoint(sandbox)
        with mapped_ship_errors():
            listing = await self._ship.list_dir(endpoint, path)
        return DirectoryList(entries=[FileInfo(**e.model_dump()) for e in listing.entries])

    async def upload(
        self, sandbox: Sandbox, path: str, chunks: AsyncIterable[bytes]
    ) -> UploadResult:
        path = normalize_path(path)
        endpoint = await self._endpoint(sandbox)
        with mapped_ship_errors():
            written = await self._ship.upload(endpoint, path, chunks)
        return UploadResult(path=path, size=written.size)

    async def download(self, sandbox: Sandbox, path: str) -> ShipDownload:
        path = normalize_path(path)
        endpoint = await self._endpoint(sandbox)
        with mapped_ship_errors():
            return await self._ship.download(endpoint, path)

    async def _endpoint(self, sandbox: Sandbox) -> str:
        ready = await self._sessions.ensure_running(sandbox.id)
        return ready.endpoint
