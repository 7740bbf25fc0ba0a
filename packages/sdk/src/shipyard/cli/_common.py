"""What every command shares: connection options, error handling, JSON and table output."""

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, NoReturn

import httpx
import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from shipyard import BayUnreachableError, Client, ShipyardError, StreamInterruptedError

Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
SandboxId = Annotated[str, typer.Argument(help="The sandbox id, sandbox-….", show_default=False)]
SandboxOption = Annotated[
    str,
    typer.Option(
        "--sandbox", "-s", envvar="SHIPYARD_SANDBOX", help="Sandbox id.", show_default=False
    ),
]
Profile = Annotated[str, typer.Option(help="Profile of a new sandbox.")]


@dataclass(frozen=True)
class Connection:
    """`--endpoint` and `--api-key` as given; None falls back to the environment in the SDK."""

    endpoint: str | None = None
    api_key: str | None = None


@contextmanager
def connect(ctx: typer.Context) -> Iterator[Client]:
    """A client for the command; Bay's errors end the command with a message and exit 1."""
    connection: Connection = ctx.ensure_object(Connection)
    with reported(), Client(connection.endpoint, connection.api_key) as client:
        yield client


@contextmanager
def reported() -> Iterator[None]:
    """Bay's errors, a cut stream or an unreachable Bay end the command with a message, exit 1."""
    try:
        yield
    except (ShipyardError, StreamInterruptedError) as exc:
        fail(f"Error: {exc}")
    except BayUnreachableError as exc:
        fail(f"Error: {exc}")
    except httpx.TransportError as exc:
        fail(f"Error: the connection to Bay failed: {exc}")


def fail(message: str) -> NoReturn:
    """Print `message` to stderr and exit 1."""
    typer.echo(message, err=True)
    raise typer.Exit(1)


def emit(as_json: bool, data: BaseModel | dict[str, Any], text: str | None = None) -> None:
    """JSON when asked for; otherwise `text`, or one `field  value` line per field."""
    fields = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
    if as_json:
        typer.echo(json.dumps(fields, indent=2))
    elif text is not None:
        typer.echo(text)
    else:
        table = Table(show_header=False, box=None)
        for name, value in fields.items():
            table.add_row(name, _cell(value))
        Console().print(table)


def emit_table(rows: Sequence[BaseModel], columns: Sequence[str]) -> None:
    """The models as a table of the given fields."""
    table = Table(*columns)
    for row in rows:
        fields = row.model_dump(mode="json")
        table.add_row(*(_cell(fields[column]) for column in columns))
    Console().print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)
