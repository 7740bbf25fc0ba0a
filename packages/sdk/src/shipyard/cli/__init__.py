"""The `shipyard` command line over the SDK: sandboxes, execs, the browser, files, cargos,
background processes, the terminal, sandbox ports, profiles and skills."""

from importlib import metadata
from typing import Annotated

import typer

from shipyard.cli._browser import browser
from shipyard.cli._cargos import cargo_app
from shipyard.cli._common import Connection
from shipyard.cli._execs import exec_app
from shipyard.cli._files import files_app
from shipyard.cli._ports import port_forward, port_url
from shipyard.cli._processes import process_app
from shipyard.cli._profiles import profiles
from shipyard.cli._sandboxes import sandbox_app
from shipyard.cli._skills import skills_app
from shipyard.cli._terminal import terminal

app = typer.Typer(
    help="Shipyard Neo: sandboxes for AI agents.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(exec_app, name="exec")
app.command("browser")(browser)
app.add_typer(files_app, name="files")
app.add_typer(cargo_app, name="cargo")
app.add_typer(process_app, name="process")
app.command("terminal")(terminal)
app.command("port-forward")(port_forward)
app.command("port-url")(port_url)
app.command("profiles")(profiles)
app.add_typer(skills_app, name="skills")


def _print_version(given: bool) -> None:
    if given:
        typer.echo(f"shipyard {metadata.version('shipyard-sdk')}")
        raise typer.Exit()


@app.callback()
def connection(
    ctx: typer.Context,
    endpoint: Annotated[
        str | None, typer.Option(envvar="SHIPYARD_ENDPOINT", help="Bay's URL.")
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(envvar="SHIPYARD_API_KEY", help="API key.", show_default=False),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version."
        ),
    ] = False,
) -> None:
    """Where Bay is and how to sign in (flags or SHIPYARD_ENDPOINT / SHIPYARD_API_KEY)."""
    ctx.obj = Connection(endpoint, api_key)
