"""MCP server: tools with upstream's names and arguments (contract §6.1), over the Shipyard SDK."""

import argparse
import functools
import os
from collections.abc import Awaitable, Callable
from pathlib import Path, PurePosixPath
from typing import Annotated, Literal, ParamSpec

import httpx
from mcp.server.mcpserver import MCPServer
from pydantic import Field

from shipyard import AsyncClient, AsyncSandbox, ShipyardError
from shipyard_mcp import text
from shipyard_mcp.config import Settings
from shipyard_mcp.text import ToolInputError, check_path, check_sandbox_id

P = ParamSpec("P")
LOG_HEADING = 80  # characters of a logs answer besides the process line and the data
ClientFactory = Callable[[], AsyncClient]

SandboxId = Annotated[str, Field(description="The sandbox id that create_sandbox answered.")]
WorkspacePath = Annotated[
    str, Field(description="Path relative to /workspace, or absolute inside it.")
]
ExecutionId = Annotated[str, Field(description="An execution id, exec-….")]
Timeout = Annotated[int, Field(ge=1, le=300, description="Seconds before the run is stopped.")]
Tags = Annotated[str | None, Field(description="Comma-separated tags to record.")]
ProcessId = Annotated[str, Field(description="The process id that start_process answered.")]
ExecType = Annotated[
    str | None, Field(description="Only this kind: python, shell, browser or browser_batch.")
]


class TransferTooLargeError(ToolInputError):
    """A transfer went past `SHIPYARD_MAX_TRANSFER_FILE_BYTES`."""


def _answered(tool: Callable[P, Awaitable[str]]) -> Callable[P, Awaitable[str]]:
    """Bay's errors and refused arguments become the tool's text answer, as upstream does."""

    @functools.wraps(tool)
    async def run(*args: P.args, **kwargs: P.kwargs) -> str:
        try:
            return await tool(*args, **kwargs)
        except ShipyardError as exc:
            return text.api_error(exc)
        except ToolInputError as exc:
            return f"**Error:** {exc}"
        except httpx.TransportError as exc:
            return f"**Error:** cannot reach Bay: {exc!r}"

    return run


class Tools:
    """The tools' implementations: each checks its arguments, calls Bay and answers text."""

    def __init__(self, settings: Settings, connect: ClientFactory) -> None:
        self._settings = settings
        self._connect = connect

    async def _sandbox(self, client: AsyncClient, sandbox_id: str) -> AsyncSandbox:
        return await client.sandboxes.get(check_sandbox_id(sandbox_id))

    def _bounded(self, answer: str) -> str:
        return text.truncate(answer, self._settings.max_text_chars)

    @_answered
    async def create_sandbox(
        self,
        profile: Annotated[str | None, Field(description="A profile from list_profiles.")] = None,
        ttl: Annotated[int | None, Field(description="Seconds to live; 0 never expires.")] = None,
    ) -> str:
        """Create a sandbox and answer its id; pass that id to every other tool."""
        seconds = self._settings.default_ttl if ttl is None else ttl
        async with self._connect() as client:
            sandbox = await client.sandboxes.create(
                profile or self._settings.default_profile, ttl=seconds or None
            )
        return text.sandbox(sandbox.info)

    @_answered
    async def delete_sandbox(self, sandbox_id: SandboxId) -> str:
        """Delete a sandbox and its files."""
        async with self._connect() as client:
            await (await self._sandbox(client, sandbox_id)).delete()
        return f"Sandbox {sandbox_id} deleted"

    @_answered
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
        async with self._connect() as client:
            sandbox = await self._sandbox(client, sandbox_id)
            result = await sandbox.python.run(
                code,
                timeout=timeout,
                include_code=include_code,
                description=description,
                tags=tags,
            )
        return self._bounded(text.python_result(result))

    @_answered
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
        async with self._connect() as client:
            sandbox = await self._sandbox(client, sandbox_id)
            result = await sandbox.shell.run(
                command,
                timeout=timeout,
                cwd=None if cwd is None else check_path(cwd, "cwd"),
                include_code=include_code,
                description=description,
                tags=tags,
            )
        return self._bounded(text.shell_result(result))

    @_answered
    async def read_file(self, sandbox_id: SandboxId, path: WorkspacePath) -> str:
        """Read a UTF-8 text file."""
        async with self._connect() as client:
            content = await (await self._sandbox(client, sandbox_id)).files.read(check_path(path))
        return self._bounded(content)

    @_answered
    async def write_file(self, sandbox_id: SandboxId, path: WorkspacePath, content: str) -> str:
        """Write a UTF-8 text file, creating parent directories."""
        size = len(content.encode())
        if size > self._settings.max_write_bytes:
            raise ToolInputError(
                f"content is {size} bytes; the limit is {self._settings.max_write_bytes}"
            )
        async with self._connect() as client:
            await (await self._sandbox(client, sandbox_id)).files.write(check_path(path), content)
        return f"Wrote {size} bytes to {path}"

    @_answered
    async def list_files(self, sandbox_id: SandboxId, path: WorkspacePath = ".") -> str:
        """List a directory of the workspace."""
        async with self._connect() as client:
            entries = await (await self._sandbox(client, sandbox_id)).files.list(check_path(path))
        return self._bounded(text.file_list(path, entries))

    @_answered
    async def delete_file(self, sandbox_id: SandboxId, path: WorkspacePath) -> str:
        """Delete a file, or a directory with everything in it."""
        async with self._connect() as client:
            await (await self._sandbox(client, sandbox_id)).files.delete(check_path(path))
        return f"Deleted {path}"

    @_answered
    async def upload_file(
        self,
        sandbox_id: SandboxId,
        local_path: Annotated[str, Field(description="A file on the MCP server's machine.")],
        sandbox_path: Annotated[str | None, Field(description="Target; default: its name.")] = None,
    ) -> str:
        """Copy a local file into the sandbox, streamed."""
        source = _local_file(local_path, self._settings.max_transfer_bytes)
        target = check_path(sandbox_path or source.name, "sandbox_path")
        async with self._connect() as client:
            sandbox = await self._sandbox(client, sandbox_id)
            result = await sandbox.files.upload(target, source)
        return f"Uploaded {source} to {result.path} ({result.size} bytes)"

    @_answered
    async def download_file(
        self,
        sandbox_id: SandboxId,
        sandbox_path: WorkspacePath,
        local_path: Annotated[
            str | None, Field(description="Where to save; default: ./name.")
        ] = None,
    ) -> str:
        """Copy a sandbox file to the MCP server's machine, streamed."""
        source = check_path(sandbox_path, "sandbox_path")
        target = _local_target(local_path, source)
        limit = functools.partial(_limit, self._settings.max_transfer_bytes)
        async with self._connect() as client:
            sandbox = await self._sandbox(client, sandbox_id)
            size = await sandbox.files.download(source, target, progress=limit)
        return f"Downloaded {source} to {target} ({size} bytes)"

    @_answered
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
        async with self._connect() as client:
            sandbox = await self._sandbox(client, sandbox_id)
            page = await sandbox.history.list(
                exec_type=exec_type,
                success_only=success_only,
                limit=limit,
                tags=tags,
                has_notes=has_notes,
                has_description=has_description,
            )
        return self._bounded(text.history(page))

    @_answered
    async def get_execution(self, sandbox_id: SandboxId, execution_id: ExecutionId) -> str:
        """Show one execution: code, output, error and annotations."""
        async with self._connect() as client:
            entry = await (await self._sandbox(client, sandbox_id)).history.get(execution_id)
        return self._bounded(text.execution(entry))

    @_answered
    async def get_last_execution(self, sandbox_id: SandboxId, exec_type: ExecType = None) -> str:
        """Show the newest execution (of one kind)."""
        async with self._connect() as client:
            entry = await (await self._sandbox(client, sandbox_id)).history.last(
                exec_type=exec_type
            )
        return self._bounded(text.execution(entry))

    @_answered
    async def annotate_execution(
        self,
        sandbox_id: SandboxId,
        execution_id: ExecutionId,
        description: str | None = None,
        tags: Tags = None,
        notes: str | None = None,
    ) -> str:
        """Set an execution's description, tags or notes; fields not given stay."""
        async with self._connect() as client:
            sandbox = await self._sandbox(client, sandbox_id)
            entry = await sandbox.history.annotate(
                execution_id, description=description, tags=tags, notes=notes
            )
        return self._bounded(text.execution(entry))

    @_answered
    async def start_process(
        self,
        sandbox_id: SandboxId,
        command: Annotated[str, Field(description="A bash command, e.g. a server or a build.")],
        cwd: Annotated[str | None, Field(description="Directory under /workspace.")] = None,
        env: Annotated[dict[str, str] | None, Field(description="Extra variables.")] = None,
    ) -> str:
        """Start a long-running command in the background; answers its process id at once.

        Read its output with get_process_logs; it ends with kill_process or the sandbox."""
        where = None if cwd is None else check_path(cwd, "cwd")
        async with self._connect() as client:
            sandbox = await self._sandbox(client, sandbox_id)
            info = await sandbox.processes.start(command, cwd=where, env=env)
        return text.process(info)

    @_answered
    async def get_process_logs(
        self,
        sandbox_id: SandboxId,
        process_id: ProcessId,
        stream: Literal["stdout", "stderr"] = "stdout",
        offset: Annotated[
            int, Field(ge=0, description="Byte to start at: the previous answer's next offset.")
        ] = 0,
    ) -> str:
        """Read a background process's output from `offset`; the answer says where to go on."""
        async with self._connect() as client:
            processes = (await self._sandbox(client, sandbox_id)).processes
            info = await processes.get(process_id)
            # Read no more than fits beside the heading, so pages are not cut in the middle.
            room = self._settings.max_text_chars - len(text.process(info)) - LOG_HEADING
            logs = await processes.logs(
                process_id, stream=stream, offset=offset, limit=max(room, LOG_HEADING)
            )
        return self._bounded(text.process_logs(info, logs))

    @_answered
    async def list_processes(self, sandbox_id: SandboxId) -> str:
        """List the sandbox's background processes, running and exited."""
        async with self._connect() as client:
            processes = await (await self._sandbox(client, sandbox_id)).processes.list()
        return self._bounded(text.processes(processes))

    @_answered
    async def kill_process(
        self,
        sandbox_id: SandboxId,
        process_id: ProcessId,
        signal: Annotated[
            str | None, Field(description="Only send this signal (TERM, INT, HUP, …).")
        ] = None,
    ) -> str:
        """Kill a background process with its children and forget it, or only send `signal`."""
        async with self._connect() as client:
            processes = (await self._sandbox(client, sandbox_id)).processes
            if signal is not None:
                return f"Sent {signal}: {text.process(await processes.signal(process_id, signal))}"
            return f"Killed: {text.process(await processes.kill(process_id))}"

    @_answered
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
        async with self._connect() as client:
            sandbox = await self._sandbox(client, sandbox_id)
            link = await sandbox.url(port, expires_in=expires_in)
        return f"{link.url}\n(works until {link.expires_at.isoformat()} UTC)"

    @_answered
    async def list_profiles(self) -> str:
        """List the sandbox profiles Bay offers."""
        async with self._connect() as client:
            return text.profiles(await client.profiles.list())


def create_server(settings: Settings, client_factory: ClientFactory | None = None) -> MCPServer:
    """The server with every tool; each call opens a client from `client_factory`."""
    connect = client_factory or functools.partial(
        AsyncClient, settings.endpoint, settings.token, timeout=settings.call_timeout
    )
    tools = Tools(settings, connect)
    server: MCPServer = MCPServer(name="shipyard", instructions=INSTRUCTIONS)
    for tool in (
        tools.create_sandbox,
        tools.delete_sandbox,
        tools.execute_python,
        tools.execute_shell,
        tools.read_file,
        tools.write_file,
        tools.list_files,
        tools.delete_file,
        tools.upload_file,
        tools.download_file,
        tools.get_execution_history,
        tools.get_execution,
        tools.get_last_execution,
        tools.annotate_execution,
        tools.start_process,
        tools.get_process_logs,
        tools.list_processes,
        tools.kill_process,
        tools.get_port_url,
        tools.list_profiles,
    ):
        server.add_tool(tool)
    return server


INSTRUCTIONS = (
    "Shipyard sandboxes: create_sandbox, then execute_python / execute_shell and the file "
    "tools with its id. Files live under /workspace and persist; delete_sandbox when done. "
    "For servers and long jobs use start_process, then get_process_logs; get_port_url "
    "gives a browser link to a server's port."
)


def _local_file(local_path: str, limit: int) -> Path:
    path = Path(local_path).expanduser()
    if not path.is_file():
        raise ToolInputError(f"local_path {path} is not a file")
    if path.stat().st_size > limit:
        raise TransferTooLargeError(f"{path} is over the {limit}-byte transfer limit")
    return path


def _local_target(local_path: str | None, sandbox_path: str) -> Path:
    return Path(local_path or PurePosixPath(sandbox_path).name).expanduser().absolute()


def _limit(limit: int, done: int, total: int | None) -> None:
    if done > limit or (total or 0) > limit:
        raise TransferTooLargeError(f"the file is over the {limit}-byte transfer limit")


def main(argv: list[str] | None = None) -> None:
    """`shipyard-mcp [--transport stdio|streamable-http] [--host H] [--port N]`."""
    parser = argparse.ArgumentParser(prog="shipyard-mcp", description="Shipyard Neo MCP server")
    parser.add_argument("--transport", choices=["stdio", "streamable-http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1", help="streamable-http only")
    parser.add_argument("--port", type=int, default=8000, help="streamable-http only")
    args = parser.parse_args(argv)
    server = create_server(Settings.from_env(os.environ))
    if args.transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=args.host, port=args.port)
