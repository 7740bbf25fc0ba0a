"""Tools for sandboxes, Python and shell runs, their history, profiles and port links."""

from typing import Annotated

from pydantic import Field

from shipyard_mcp import text
from shipyard_mcp.text import check_path, check_sandbox_id
from shipyard_mcp.tools import SandboxId, Tools, answered

ExecutionId = Annotated[str, Field(description="An execution id, exec-….")]
Timeout = Annotated[int, Field(ge=1, le=300, description="Seconds before the run is stopped.")]
Tags = Annotated[str | None, Field(description="Comma-separated tags to record.")]
ExecType = Annotated[
    str | None, Field(description="Only this kind: python, shell, browser or browser_batch.")
]


class SandboxTools(Tools):
    """Sandboxes, runs and their history."""

    @answered
    async def create_sandbox(
        self,
        profile: Annotated[str | None, Field(description="A profile from list_profiles.")] = None,
        ttl: Annotated[int | None, Field(description="Seconds to live; 0 never expires.")] = None,
    ) -> str:
        """Create a sandbox and answer its id; pass that id to every other tool."""
        seconds = self._settings.default_ttl if ttl is None else ttl
        sandbox = await self._client.sandboxes.create(
            profile or self._settings.default_profile, ttl=seconds or None
        )
        return text.sandbox(self._cache.put(sandbox).info)

    @answered
    async def list_sandboxes(
        self,
        status: Annotated[
            str | None,
            Field(description="Only this status: idle, starting, ready, failed or expired."),
        ] = None,
        limit: Annotated[int, Field(ge=1, le=200, description="Page size.")] = 50,
        cursor: Annotated[
            str | None, Field(description="The previous answer's next cursor, for more.")
        ] = None,
    ) -> str:
        """List your sandboxes, newest first, with status, profile and expiry."""
        page = await self._client.sandboxes.list(limit=limit, cursor=cursor, status=status)
        return self._bounded(text.sandbox_list(page))

    @answered
    async def get_sandbox(self, sandbox_id: SandboxId) -> str:
        """Show one sandbox as Bay sees it now: status, profile, capabilities, expiry."""
        sandbox = await self._client.sandboxes.get(check_sandbox_id(sandbox_id))
        return text.sandbox(self._cache.put(sandbox).info)

    @answered
    async def delete_sandbox(self, sandbox_id: SandboxId) -> str:
        """Delete a sandbox and its files."""
        await (await self._sandbox(sandbox_id)).delete()
        self._cache.drop(sandbox_id)
        return f"Sandbox {sandbox_id} deleted"

    @answered
    async def execute_python(
        self,
        sandbox_id: SandboxId,
        code: str,
        timeout: Timeout = 30,
        include_code: bool = False,
        description: str | None = None,
        tags: Tags = None,
    ) -> str:
        """Run Python in the sandbox's IPython kernel; variables persist between calls."""
        sandbox = await self._sandbox(sandbox_id)
        result = await sandbox.python.run(
            code, timeout=timeout, include_code=include_code, description=description, tags=tags
        )
        return self._bounded(text.python_result(result))

    @answered
    async def execute_shell(
        self,
        sandbox_id: SandboxId,
        command: str,
        cwd: Annotated[str | None, Field(description="Directory under /workspace.")] = None,
        timeout: Timeout = 30,
        include_code: bool = False,
        description: str | None = None,
        tags: Tags = None,
    ) -> str:
        """Run a bash command in /workspace (or `cwd`) and answer its output and exit code."""
        sandbox = await self._sandbox(sandbox_id)
        result = await sandbox.shell.run(
            command,
            timeout=timeout,
            cwd=None if cwd is None else check_path(cwd, "cwd"),
            include_code=include_code,
            description=description,
            tags=tags,
        )
        return self._bounded(text.shell_result(result))

    @answered
    async def get_execution_history(
        self,
        sandbox_id: SandboxId,
        exec_type: ExecType = None,
        success_only: bool = False,
        limit: Annotated[int, Field(ge=1, le=500)] = 50,
        tags: Annotated[str | None, Field(description="Comma-separated; any may match.")] = None,
        has_notes: bool = False,
        has_description: bool = False,
    ) -> str:
        """List the sandbox's executions, newest first."""
        sandbox = await self._sandbox(sandbox_id)
        page = await sandbox.history.list(
            exec_type=exec_type,
            success_only=success_only,
            limit=limit,
            tags=tags,
            has_notes=has_notes,
            has_description=has_description,
        )
        return self._bounded(text.history(page))

    @answered
    async def get_execution(self, sandbox_id: SandboxId, execution_id: ExecutionId) -> str:
        """Show one execution: code, output, error and annotations."""
        entry = await (await self._sandbox(sandbox_id)).history.get(execution_id)
        return self._bounded(text.execution(entry))

    @answered
    async def get_last_execution(self, sandbox_id: SandboxId, exec_type: ExecType = None) -> str:
        """Show the newest execution (of one kind)."""
        entry = await (await self._sandbox(sandbox_id)).history.last(exec_type=exec_type)
        return self._bounded(text.execution(entry))

    @answered
    async def annotate_execution(
        self,
        sandbox_id: SandboxId,
        execution_id: ExecutionId,
        description: str | None = None,
        tags: Tags = None,
        notes: str | None = None,
    ) -> str:
        """Set an execution's description, tags or notes; fields not given stay."""
        sandbox = await self._sandbox(sandbox_id)
        entry = await sandbox.history.annotate(
            execution_id, description=description, tags=tags, notes=notes
        )
        return self._bounded(text.execution(entry))

    @answered
    async def get_port_url(
        self,
        sandbox_id: SandboxId,
        port: Annotated[int, Field(ge=1, le=65535, description="The port a server listens on.")],
        expires_in: Annotated[
            int, Field(ge=1, le=7 * 24 * 3600, description="Seconds the link works.")
        ] = 3600,
    ) -> str:
        """A link to a server in the sandbox (start it with start_process) that opens in a
        browser without an API key until it expires."""
        link = await (await self._sandbox(sandbox_id)).url(port, expires_in=expires_in)
        return f"{link.url}\n(works until {link.expires_at.isoformat()} UTC)"

    @answered
    async def list_profiles(self) -> str:
        """List the sandbox profiles Bay offers."""
        return text.profiles(await self._client.profiles.list())
