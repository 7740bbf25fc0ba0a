"""`shipyard process …`: background commands in a sandbox and their logs."""

import json
from typing import Annotated, Literal

import typer

from shipyard.cli._common import Json, SandboxOption, connect, emit, emit_table, fail

process_app = typer.Typer(help="Background processes in a sandbox.", no_args_is_help=True)

ProcessId = Annotated[str, typer.Argument(help="The process id, proc-….", show_default=False)]
COLUMNS = ("process_id", "pid", "state", "exit_code", "command")


def _env(pairs: list[str]) -> dict[str, str]:
    if any("=" not in pair for pair in pairs):
        fail("Error: --env takes NAME=VALUE")
    return {name: value for name, _, value in (pair.partition("=") for pair in pairs)}


@process_app.command("start")
def start(
    ctx: typer.Context,
    command: Annotated[str, typer.Argument(help="Shell command to run detached.")],
    sandbox: SandboxOption,
    cwd: Annotated[str | None, typer.Option(help="Directory under /workspace.")] = None,
    env: Annotated[
        list[str] | None, typer.Option("--env", "-e", help="NAME=VALUE; repeatable.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Start a command in the background and print its process id."""
    variables = _env(env or [])
    with connect(ctx) as client:
        info = client.sandboxes.get(sandbox).processes.start(command, cwd=cwd, env=variables)
    emit(as_json, info, info.process_id)


@process_app.command("list")
def list_(ctx: typer.Context, sandbox: SandboxOption, as_json: Json = False) -> None:
    """List the sandbox's background processes."""
    with connect(ctx) as client:
        processes = client.sandboxes.get(sandbox).processes.list()
    if as_json:
        return emit(True, {"processes": [p.model_dump(mode="json") for p in processes]})
    emit_table(processes, COLUMNS)


@process_app.command("logs")
def logs(
    ctx: typer.Context,
    process_id: ProcessId,
    sandbox: SandboxOption,
    stderr: Annotated[bool, typer.Option("--stderr", help="Read stderr, not stdout.")] = False,
    offset: Annotated[int, typer.Option(help="Start at this byte.")] = 0,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing until it exits.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Print a process's output (`--follow` waits for more until the process exits)."""
    stream: Literal["stdout", "stderr"] = "stderr" if stderr else "stdout"
    with connect(ctx) as client:
        processes = client.sandboxes.get(sandbox).processes
        if not follow:
            page = processes.logs(process_id, stream=stream, offset=offset)
            if as_json:
                return emit(True, page)
            return typer.echo(page.data, nl=False)
        for chunk in processes.follow(process_id, stream=stream, offset=offset):
            text = json.dumps({"stream": stream, "data": chunk}) + "\n" if as_json else chunk
            typer.echo(text, nl=False)


@process_app.command("kill")
def kill(
    ctx: typer.Context,
    process_id: ProcessId,
    sandbox: SandboxOption,
    signal: Annotated[
        str | None, typer.Option(help="Send this signal (TERM, INT, …) and keep the process.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Kill a process with its group and forget it, or only send it `--signal`."""
    with connect(ctx) as client:
        processes = client.sandboxes.get(sandbox).processes
        if signal is None:
            info = processes.kill(process_id)
            text = f"killed {process_id}"
        else:
            info = processes.signal(process_id, signal)
            text = f"sent {signal} to {process_id}"
    emit(as_json, info, text)
