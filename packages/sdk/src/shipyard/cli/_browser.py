"""`shipyard browser …`: agent-browser commands in a sandbox's Chromium, one or a batch."""

from typing import Annotated

import typer

from shipyard.cli._common import Json, SandboxOption, connect, emit
from shipyard_protocol.api import BrowserBatchResult, BrowserExecResult

Timeout = Annotated[
    int | None,
    typer.Option(
        help="Seconds before the run is stopped (one command 1-300, default 30; a "
        "batch 1-600 for all of it, default 60).",
        show_default=False,
    ),
]
KeepGoing = Annotated[
    bool, typer.Option("--keep-going", help="Run the later commands after one failed.")
]
Trace = Annotated[bool, typer.Option("--trace", help="Record the run and print its trace ref.")]
Tags = Annotated[str | None, typer.Option(help="Comma-separated tags to record.")]


def _exit(code: int | None, success: bool) -> typer.Exit:
    """The command's exit code (1 when it has none or it does not fit a status)."""
    if success:
        return typer.Exit(0)
    return typer.Exit(code if code is not None and 0 < code < 256 else 1)


def _echo(text: str, err: bool = False) -> None:
    if text:
        typer.echo(text, nl=not text.endswith("\n"), err=err)


def _show_trace(trace_ref: str | None) -> None:
    if trace_ref:
        typer.echo(f"trace: {trace_ref}", err=True)


def show_one(result: BrowserExecResult, as_json: bool) -> typer.Exit:
    """Print one command's output (stderr on stderr) and answer how to exit."""
    if as_json:
        emit(True, result)
    else:
        _echo(result.output)
        _echo(result.error or "", err=True)
        _show_trace(result.trace_ref)
    return _exit(result.exit_code, result.success)


def show_batch(result: BrowserBatchResult, as_json: bool) -> typer.Exit:
    """Print each step's output, say where a failed batch stopped, and answer how to exit."""
    if as_json:
        emit(True, result)
    else:
        for step in result.results:
            _echo(step.stdout)
            _echo(step.stderr, err=True)
        failed = [step for step in result.results if step.exit_code != 0]
        if failed:
            step = failed[0]
            typer.echo(
                f"Error: step {step.step_index + 1} ({step.cmd}) exited {step.exit_code}; "
                f"{result.completed_steps} of {result.total_steps} steps ran",
                err=True,
            )
        _show_trace(result.trace_ref)
    failed_codes = [step.exit_code for step in result.results if step.exit_code != 0]
    return _exit(failed_codes[0] if failed_codes else None, result.success)


def browser(
    ctx: typer.Context,
    commands: Annotated[
        list[str],
        typer.Argument(
            help="agent-browser commands without the `agent-browser` word, each quoted: "
            '"open https://example.com" "snapshot -i". Several run as one batch.',
            show_default=False,
        ),
    ],
    sandbox: SandboxOption,
    timeout: Timeout = None,
    keep_going: KeepGoing = False,
    trace: Trace = False,
    learn: Annotated[
        bool, typer.Option("--learn", help="Offer the run to skill learning.")
    ] = False,
    tags: Tags = None,
    as_json: Json = False,
) -> None:
    """Drive the sandbox's headless browser; the page stays open between calls. Output is
    printed as a shell command's; a failed command sets the exit status."""
    with connect(ctx) as client:
        target = client.sandboxes.get(sandbox).browser
        if len(commands) == 1:
            one = target.exec(
                commands[0],
                timeout=30 if timeout is None else timeout,
                tags=tags,
                learn=learn,
                include_trace=trace,
            )
            status = show_one(one, as_json)
        else:
            batch = target.exec_batch(
                commands,
                timeout=60 if timeout is None else timeout,
                stop_on_error=not keep_going,
                tags=tags,
                learn=learn,
                include_trace=trace,
            )
            status = show_batch(batch, as_json)
    raise status
