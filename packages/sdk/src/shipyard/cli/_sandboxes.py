"""`shipyard sandbox …`."""

from typing import Annotated, Any

import typer

from shipyard.cli._common import Json, Profile, SandboxId, connect, emit, emit_table
from shipyard.cli._profiles import describe_network

sandbox_app = typer.Typer(help="Create, inspect, stop and delete sandboxes.", no_args_is_help=True)

COLUMNS = ("id", "status", "profile", "expires_at")

Labels = Annotated[
    list[str] | None,
    typer.Option("--metadata", help="KEY=VALUE label (repeat); on list, a filter."),
]


def pairs(options: list[str] | None, name: str) -> dict[str, str] | None:
    """`KEY=VALUE` options as a mapping; a usage error names the one without `=`."""
    found = {}
    for option in options or []:
        key, sep, value = option.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{option!r} is not KEY=VALUE", param_hint=name)
        found[key] = value
    return found or None


@sandbox_app.command("create")
def create(
    ctx: typer.Context,
    profile: Profile = "python-default",
    ttl: Annotated[int | None, typer.Option(help="Seconds until it expires.")] = None,
    cargo: Annotated[str | None, typer.Option(help="Mount this external cargo.")] = None,
    network: Annotated[
        str | None,
        typer.Option(
            help="Narrow the profile's network: none, internet, or a comma-separated allow "
            "list of domains (*. wildcards) and CIDRs."
        ),
    ] = None,
    metadata: Labels = None,
    env: Annotated[
        list[str] | None,
        typer.Option("--env", help="KEY=VALUE for its shell, kernel and processes (repeat)."),
    ] = None,
    as_json: Json = False,
) -> None:
    """Create a sandbox and print its id."""
    with connect(ctx) as client:
        sandbox = client.sandboxes.create(
            profile,
            ttl=ttl,
            cargo_id=cargo,
            network=_network(network),
            metadata=pairs(metadata, "--metadata"),
            env=pairs(env, "--env"),
        )
    emit(as_json, sandbox.info, sandbox.id)


def _network(option: str | None) -> str | dict[str, Any] | None:
    if option is None or option in ("none", "internet"):
        return option
    allow = [entry.strip() for entry in option.split(",") if entry.strip()]
    return {"egress": "allow", "allow": allow}


@sandbox_app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    limit: Annotated[int, typer.Option(help="Page size (1-200).")] = 50,
    cursor: Annotated[str | None, typer.Option(help="Continue after this id.")] = None,
    metadata: Labels = None,
    as_json: Json = False,
) -> None:
    """List your sandboxes."""
    with connect(ctx) as client:
        labels = pairs(metadata, "--metadata")
        page = client.sandboxes.list(limit=limit, cursor=cursor, status=status, metadata=labels)
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
    if as_json or info.network is None:
        return emit(as_json, info)
    fields = info.model_dump(mode="json")
    network = info.network
    cap = f", capped at {network.bandwidth_mbit:g} Mbit/s" if network.bandwidth_mbit else ""
    fields["network"] = (
        f"{describe_network(network)} ({network.bytes_in} B in, {network.bytes_out} B out{cap})"
    )
    emit(False, fields)


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
