"""The `shipyard` command's entry point: names the extra to install when the CLI's are missing."""

CLI_DEPENDENCIES = frozenset({"typer", "rich", "click", "websockets"})
INSTALL_HINT = "the shipyard command needs the SDK's cli extra: pip install 'shipyard-sdk[cli]'"


def main() -> None:
    """Run the CLI, or exit 1 with the install hint when a dependency of the extra is missing."""
    try:
        from shipyard.cli import app
    except ModuleNotFoundError as exc:
        if exc.name not in CLI_DEPENDENCIES:
            raise
        raise SystemExit(f"{INSTALL_HINT} ({exc.name} is missing)") from exc
    app()
