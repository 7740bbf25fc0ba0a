"""`shipyard files …`: the sandbox's workspace, with streamed, progress-barred transfers."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from shipyard import Progress as OnProgress
from shipyard.cli._common import Json, SandboxOption, connect, emit, emit_table
from shipyard_protocol.api import DirectoryList

files_app = typer.Typer(help="Read, write and transfer files in a sandbox.", no_args_is_help=True)

RemotePath = Annotated[str, typer.Argument(help="Path under /workspace.", show_default=False)]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


@contextmanager
def _progress_bar(label: str, shown: bool) -> Iterator[OnProgress | None]:
    if not shown:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


@files_app.command("ls")
def ls(
    ctx: typer.Context, sandbox: SandboxOption, path: RemotePath = ".", as_json: Json = False
) -> None:
    """List a directory."""
    with connect(ctx) as client:
        entries = client.sandboxes.get(sandbox).files.list(path)
    if as_json:
        return emit(True, DirectoryList(entries=entries))
    emit_table(entries, ("name", "is_dir", "size"))


@files_app.command("cat")
def cat(
    ctx: typer.Context, sandbox: SandboxOption, path: RemotePath, as_json: Json = False
) -> None:
    """Print a UTF-8 text file."""
    with connect(ctx) as client:
        content = client.sandboxes.get(sandbox).files.read(path)
    if as_json:
        return emit(True, {"path": path, "content": content})
    typer.echo(content, nl=False)


@files_app.command("put")
def put(
    ctx: typer.Context,
    local: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Local file.")],
    sandbox: SandboxOption,
    remote: Annotated[str | None, typer.Argument(help="Target path; default: its name.")] = None,
    quiet: Quiet = False,
    as_json: Json = False,
) -> None:
    """Upload a local file, streamed."""
    target = remote or local.name
    with connect(ctx) as client, _progress_bar(f"put {target}", not (quiet or as_json)) as progress:
        result = client.sandboxes.get(sandbox).files.upload(target, local, progress=progress)
    emit(as_json, result, f"{local} -> {result.path} ({result.size} bytes)")


@files_app.command("get")
def get(
    ctx: typer.Context,
    sandbox: SandboxOption,
    path: RemotePath,
    local: Annotated[Path | None, typer.Argument(help="Local file; default: its name.")] = None,
    quiet: Quiet = False,
    as_json: Json = False,
) -> None:
    """Download a file, streamed."""
    target = local or Path(PurePosixPath(path).name)
    with connect(ctx) as client, _progress_bar(f"get {path}", not (quiet or as_json)) as progress:
        size = client.sandboxes.get(sandbox).files.download(path, target, progress=progress)
    emit(as_json, {"path": str(target), "size": size}, f"{path} -> {target} ({size} bytes)")


@files_app.command("rm")
def rm(ctx: typer.Context, sandbox: SandboxOption, path: RemotePath, as_json: Json = False) -> None:
    """Delete a file or a directory with its contents."""
    with connect(ctx) as client:
        client.sandboxes.get(sandbox).files.delete(path)
    emit(as_json, {"path": path, "deleted": True}, f"removed {path}")
