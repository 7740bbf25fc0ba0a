"""`shipyard cargo …`."""

from typing import Annotated

import typer

from shipyard.cli._common import Json, connect, emit, emit_table

cargo_app = typer.Typer(help="Persistent volumes that outlive sandboxes.", no_args_is_help=True)

CargoId = Annotated[str, typer.Argument(help="The cargo id, ws-….", show_default=False)]
COLUMNS = ("id", "managed", "size_limit_mb", "created_at")


@cargo_app.command("create")
def create(
    ctx: typer.Context,
    size_limit_mb: Annotated[int | None, typer.Option(help="Size limit in MiB.")] = None,
    as_json: Json = False,
) -> None:
    """Create an external cargo and print its id."""
    with connect(ctx) as client:
        cargo = client.cargos.create(size_limit_mb=size_limit_mb)
    emit(as_json, cargo, cargo.id)


@cargo_app.command("list")
def list_(
    ctx: typer.Context,
    managed: Annotated[bool, typer.Option(help="List sandbox-managed cargos instead.")] = False,
    limit: Annotated[int, typer.Option(help="Page size (1-200).")] = 50,
    cursor: Annotated[str | None, typer.Option(help="Continue after this id.")] = None,
    as_json: Json = False,
) -> None:
    """List cargos."""
    with connect(ctx) as client:
        page = client.cargos.list(limit=limit, cursor=cursor, managed=managed)
    if as_json:
        return emit(True, page)
    emit_table(page.items, COLUMNS)
    if page.next_cursor:
        typer.echo(f"more: --cursor {page.next_cursor}", err=True)


@cargo_app.command("get")
def get(ctx: typer.Context, cargo_id: CargoId, as_json: Json = False) -> None:
    """Show one cargo."""
    with connect(ctx) as client:
        cargo = client.cargos.get(cargo_id)
    emit(as_json, cargo)


@cargo_app.command("delete")
def delete(ctx: typer.Context, cargo_id: CargoId, as_json: Json = False) -> None:
    """Delete a cargo no sandbox uses."""
    with connect(ctx) as client:
        client.cargos.delete(cargo_id)
    emit(as_json, {"id": cargo_id, "deleted": True}, f"deleted {cargo_id}")
