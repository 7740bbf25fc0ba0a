"""`shipyard profiles`: a table of the profiles, or with `--detail` one block per profile."""

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from shipyard.cli._common import Json, connect, emit, emit_table
from shipyard_protocol.api import NetworkPolicy, Profile


def profiles(
    ctx: typer.Context,
    detail: Annotated[
        bool,
        typer.Option(help="Show each profile's description, limits, network, warm pool, …"),
    ] = False,
    as_json: Json = False,
) -> None:
    """List the sandbox profiles Bay offers."""
    with connect(ctx) as client:
        listing = client.profiles.list(detail=detail)
    if as_json:
        return emit(True, listing)
    if not detail:
        return emit_table(listing.items, ("id", "capabilities", "idle_timeout", "image"))
    console = Console()
    for number, profile in enumerate(listing.items):
        if number:
            console.print()
        console.print(f"[bold]{profile.id}[/bold]", highlight=False)
        console.print(_details(profile))


def describe_network(policy: NetworkPolicy) -> str:
    """`none`, `internet`, or `allow a, b`, with `; deny c` when it has a deny list."""
    said = "allow " + ", ".join(policy.allow) if policy.egress == "allow" else policy.egress
    return said + (f"; deny {', '.join(policy.deny)}" if policy.deny else "")


def _details(profile: Profile) -> Table:
    """One `field  value` row per fact Bay gave; a fact it left out (an older Bay) is skipped."""
    resources = profile.resources
    rows = {
        "description": profile.description,
        "capabilities": ", ".join(profile.capabilities) or "none",
        "limits": f"{resources.cpus:g} CPU, {resources.memory} memory, "
        f"idle timeout {profile.idle_timeout} s",
        "network": None if profile.network is None else describe_network(profile.network),
        "warm pool": None
        if profile.warm_pool_size is None
        else f"{profile.warm_pool_size} ready sandboxes",
        "preload": None if profile.preload is None else ", ".join(profile.preload) or "none",
        "image": profile.image,
        "containers": "; ".join(
            f"{c.name} ({c.runtime_type}): {', '.join(c.capabilities)}"
            for c in profile.containers or []
        )
        or None,
    }
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 2))
    for name, value in rows.items():
        if value is not None:
            table.add_row(name, value)
    return table
