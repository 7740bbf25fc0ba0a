"""The sandboxes this server has seen, by id: a bounded LRU, so a tool call on a known sandbox
sends only its own request (upstream's `SHIPYARD_SANDBOX_CACHE_SIZE`)."""

from collections import OrderedDict

from shipyard import AsyncClient, AsyncSandbox


class SandboxCache:
    """Handles on sandboxes, newest use last; past `size` the least recently used is dropped.

    A miss costs one `GET`. An entry can outlive its sandbox (deleted elsewhere, expired):
    the next call on it then fails with Bay's `not_found`, as it would have after a `GET`.
    """

    def __init__(self, client: AsyncClient, size: int) -> None:
        self._client = client
        self._size = size
        self._sandboxes: OrderedDict[str, AsyncSandbox] = OrderedDict()

    async def get(self, sandbox_id: str) -> AsyncSandbox:
        """The cached handle, or Bay's sandbox (`NotFoundError` if it is gone or not ours)."""
        sandbox = self._sandboxes.get(sandbox_id)
        if sandbox is None:
            return self.put(await self._client.sandboxes.get(sandbox_id))
        self._sandboxes.move_to_end(sandbox_id)
        return sandbox

    def put(self, sandbox: AsyncSandbox) -> AsyncSandbox:
        """Remember `sandbox` as the most recently used; answers it."""
        self._sandboxes[sandbox.id] = sandbox
        self._sandboxes.move_to_end(sandbox.id)
        while len(self._sandboxes) > self._size:
            self._sandboxes.popitem(last=False)
        return sandbox

    def drop(self, sandbox_id: str) -> None:
        """Forget a deleted sandbox."""
        self._sandboxes.pop(sandbox_id, None)

    def __len__(self) -> int:
        return len(self._sandboxes)
