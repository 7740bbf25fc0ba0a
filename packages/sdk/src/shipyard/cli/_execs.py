"""`shipyard exec …`: Python or shell in a sandbox, its output printed live as it streams."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from shipyard import Client, ExecStream, Sandbox
from shipyard.cli._common import Json, Profile, connect, emit, fail
from shipyard.cli._spinner import Stop, while_starting
from shipyard_protocol.ship import (
    DisplayEvent,
    EndEvent,
    ErrorEvent,
    ExecEvent,
    OutputEvent,
    ResultEvent,
)

exec_app = typer.Typer(help="Run Python or shell in a sandbox.", no_args_is_help=True)

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
Timeout = Annotated[int, typer.Option(help="Seconds before the run is stopped (1-300).")]
INTERRUPTED = 130  # what shells answer after Ctrl-C


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


class Printer:
    """Shows events where a terminal user expects them: output on its stream, errors on stderr.
    The first event stops the start-up spinner."""

    def __init__(self, started: Stop) -> None:
        self.error_shown = False
        self._started = started

    def show(self, event: ExecEvent) -> None:
        self._started()
        if isinstance(event, OutputEvent):
            typer.echo(event.text, nl=False, err=event.kind == "stderr")
        elif isinstance(event, ResultEvent):
            typer.echo(event.text)
        elif isinstance(event, DisplayEvent):
            plain = event.data.get("text/plain")
            typer.echo(plain if isinstance(plain, str) else f"[display: {', '.join(event.data)}]")
        elif isinstance(event, ErrorEvent):
            self.error_shown = True
            error = event.error
            typer.echo("\n".join(error.traceback) or f"{error.name}: {error.value}", err=True)
        elif event.error and not self.error_shown:
            typer.echo(f"Error: {event.error}", err=True)


def _follow(sandbox: Sandbox, stream: ExecStream, interruptible: bool, started: Stop) -> EndEvent:
    """Print the events until `end`. Ctrl-C interrupts a Python run once (the stream goes on
    to show the KeyboardInterrupt); otherwise, or a second time, it leaves with 130."""
    printer = Printer(started)
    interrupted = False
    while True:
        try:
            for event in stream:
                printer.show(event)
                if isinstance(event, EndEvent):
                    return event
            fail("Error: the stream ended without its end event")
        except KeyboardInterrupt:
            if interrupted or not interruptible or stream.execution_id is None:
                raise typer.Exit(INTERRUPTED) from None
            interrupted = True
            sandbox.python.interrupt()
            stream = sandbox.executions.events(stream.execution_id, after=stream.last_event_id)


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
    """Run Python in the sandbox's kernel, printing output as it comes; exits 1 when it raises."""
    with connect(ctx) as client, _target(client, sandbox, profile, keep) as target:
        if as_json:
            result = target.python.run(_source(code), timeout=timeout)
            emit(True, result)
            success = result.success
        else:
            with while_starting(target.info) as started:
                stream = target.python.stream(_source(code), timeout=timeout)
                success = _follow(target, stream, True, started).success
    if not success:
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
    """Run a shell command, printing its output as it comes; its exit code becomes this one's."""
    with connect(ctx) as client, _target(client, sandbox, profile, keep) as target:
        if as_json:
            result = target.shell.run(_source(command), timeout=timeout, cwd=cwd)
            emit(True, result)
            code, success = result.exit_code, result.success
        else:
            with while_starting(target.info) as started:
                stream = target.shell.stream(_source(command), timeout=timeout, cwd=cwd)
                end = _follow(target, stream, False, started)
            code, success = end.exit_code, end.success
    if code is None:
        code = 0 if success else 1
    raise typer.Exit(code if 0 <= code < 256 else 1)
