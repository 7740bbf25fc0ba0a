"""`shipyard sandbox …` and `shipyard exec …`."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from shipyard import Client, Sandbox
from shipyard.cli._common import Json, SandboxId, connect, emit, emit_table

sandbox_app = typer.Typer(help="Create, inspect, stop and delete sandboxes.", no_args_is_help=True)
exec_app = typer.Typer(help="Run Python or shell in a sandbox.", no_args_is_help=True)

COLUMNS = ("id", "status", "profile", "expires_at")

Target = Annotated[
    str,
    typer.Option(
        "--sandbox",
        "-s",
        envvar="SHIPYARD_SANDBOX",
        help="Sandbox id, or `new` for a fresh one that is deleted afterwards.",
        show_default=False,
    ),
]
Keep = Annotated[bool, typer.Option(help="Keep a `--sandbox new` sandbox and print its id.")]
Profile = Annotated[str, typer.Option(help="Profile of a new sandbox.")]
Timeout = Annotated[int, typer.Option(help="Seconds before the run is stopped (1-300).")]


@sandbox_app.command("create")
def create(
    ctx: typer.Context,
    profile: Profile = "python-default",
    ttl: Annotated[int | None, typer.Option(help="Seconds until it expires.")] = None,
    cargo: Annotated[str | None, typer.Option(help="Mount this external cargo.")] = None,
    as_json: Json = False,
) -> None:
    """Create a sandbox and print its id."""
    with connect(ctx) as client:
        sandbox = client.sandboxes.create(profile, ttl=ttl, cargo_id=cargo)
    emit(as_json, sandbox.info, sandbox.id)


@sandbox_app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    limit: Annotated[int, typer.Option(help="Page size (1-200).")] = 50,
    cursor: Annotated[str | None, typer.Option(help="Continue after this id.")] = None,
    as_json: Json = False,
) -> None:
    """List your sandboxes."""
    with connect(ctx) as client:
        page = client.sandboxes.list(limit=limit, cursor=cursor, status=status)
    if as_json:
        return emit(True, page)
    emit_table(page.items, COLUMNS)
    if page.next_cursor:
        typer.echo(f"more: --cursor {page.next_cursor}", err=True)


@sandbox_app.command("get")
def get(ctx: typer.Context, sandbox_id: SandboxId, as_json: Json = False) -> None:
    """Show one sandbox."""
    with connect(ctx) as client:
        info = client.sandboxes.get(sandbox_id).info
    emit(as_json, info)


@sandbox_app.command("stop")
def stop(ctx: typer.Context, sandbox_id: SandboxId, as_json: Json = False) -> None:
    """Stop a sandbox's compute; its files stay."""
    with connect(ctx) as client:
        sandbox = client.sandboxes.get(sandbox_id)
        sandbox.stop()
        info = sandbox.refresh()
    emit(as_json, info, f"stopped {sandbox_id}")


@sandbox_app.command("delete")
def delete(ctx: typer.Context, sandbox_id: SandboxId, as_json: Json = False) -> None:
    """Delete a sandbox and its managed cargo."""
    with connect(ctx) as client:
        client.sandboxes.get(sandbox_id).delete()
    emit(as_json, {"id": sandbox_id, "deleted": True}, f"deleted {sandbox_id}")


@contextmanager
def _target(client: Client, sandbox: str, profile: str, keep: bool) -> Iterator[Sandbox]:
    if sandbox != "new":
        yield client.sandboxes.get(sandbox)
        return
    created = client.sandboxes.create(profile)
    try:
        yield created
    finally:
        if keep:
            typer.echo(f"sandbox: {created.id}", err=True)
        else:
            created.delete()


def _source(code: str) -> str:
    return sys.stdin.read() if code == "-" else code


def _echo(output: str, error: str | None) -> None:
    if output:
        typer.echo(output)
    if error:
        typer.echo(error, err=True)


@exec_app.command("python")
def python(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Python code, or - to read stdin.")],
    sandbox: Target,
    timeout: Timeout = 30,
    profile: Profile = "python-default",
    keep: Keep = False,
    as_json: Json = False,
) -> None:
    """Run Python in the sandbox's kernel; exits 1 when the code raises."""
    with connect(ctx) as client, _target(client, sandbox, profile, keep) as target:
        result = target.python.run(_source(code), timeout=timeout)
    if as_json:
        emit(True, result)
    else:
        _echo(result.output, result.error)
    if not result.success:
        raise typer.Exit(1)


@exec_app.command("shell")
def shell(
    ctx: typer.Context,
    command: Annotated[str, typer.Argument(help="Shell command, or - to read stdin.")],
    sandbox: Target,
    cwd: Annotated[str | None, typer.Option(help="Directory under /workspace.")] = None,
    timeout: Timeout = 30,
    profile: Profile = "python-default",
    keep: Keep = False,
    as_json: Json = False,
) -> None:
    """Run a shell command; its exit code becomes this command's."""
    with connect(ctx) as client, _target(client, sandbox, profile, keep) as target:
        result = target.shell.run(_source(command), timeout=timeout, cwd=cwd)
    if as_json:
        emit(True, result)
    else:
        _echo(result.output, result.error)
    code = result.exit_code
    raise typer.Exit(code if code is not None and 0 <= code < 256 else 1)
