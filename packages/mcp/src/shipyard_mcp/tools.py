"""What every tool shares: the server's one client, its sandbox cache, bounded answers, and
Bay's errors answered as text with `isError` set."""

import functools
from collections.abc import Awaitable, Callable
from typing import Annotated, ParamSpec

import httpx
from mcp.types import CallToolResult, TextContent
from pydantic import Field

from shipyard import AsyncClient, AsyncSandbox, BayUnreachableError, ShipyardError
from shipyard_mcp import text
from shipyard_mcp.config import Settings
from shipyard_mcp.sandboxes import SandboxCache
from shipyard_mcp.text import ToolInputError, check_sandbox_id

P = ParamSpec("P")
Answer = str | CallToolResult

SandboxId = Annotated[str, Field(description="The sandbox id that create_sandbox answered.")]


class Tools:
    """The state tools share; subclasses hold the tools of one area."""

    def __init__(self, settings: Settings, client: AsyncClient, cache: SandboxCache) -> None:
        self._settings = settings
        self._client = client
        self._cache = cache

    async def _sandbox(self, sandbox_id: str) -> AsyncSandbox:
        return await self._cache.get(check_sandbox_id(sandbox_id))

    def _bounded(self, answer: str) -> str:
        return text.truncate(answer, self._settings.max_text_chars)


def answered(tool: Callable[P, Awaitable[str]]) -> Callable[P, Awaitable[Answer]]:
    """Bay's errors and refused arguments become the tool's text answer, as upstream's do, but
    marked `isError` so an agent host can tell a failure from a result."""

    @functools.wraps(tool)
    async def run(*args: P.args, **kwargs: P.kwargs) -> Answer:
        try:
            return await tool(*args, **kwargs)
        except ShipyardError as exc:
            return failure(text.api_error(exc))
        except ToolInputError as exc:
            return failure(f"**Error:** {exc}")
        except BayUnreachableError as exc:
            return failure(f"**Error:** {exc}")
        except httpx.TransportError as exc:
            return failure(f"**Error:** the connection to Bay failed: {exc!r}")

    return run


def failure(message: str) -> CallToolResult:
    """A tool answer that says it failed."""
    return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)
