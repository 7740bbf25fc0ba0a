"""The `bay` command: serve, migrate, and admin chores that work on the database directly."""

import argparse
import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import structlog
import uvicorn
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncSession as DbSession

from bay import __version__, logs
from bay.app import create_app
from bay.config import Settings
from bay.db.engine import make_engine, make_sessionmaker, migrate, startup_lock
from bay.services.clock import utcnow
from bay.services.gc import TASKS
from bay.services.keys import KeyService, Provisioned

log = structlog.get_logger("bay.cli")


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    os.umask(0o077)  # the database and credentials are for Bay's eyes only
    settings = _settings(args)
    logs.configure(settings.logging)
    if args.command == "serve":
        serve(settings)
        return
    _check_database(settings, args)
    asyncio.run(_ACTIONS[args.command](settings, args))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bay", description="Shipyard Neo control plane")
    parser.add_argument("--version", action="version", version=f"bay {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    common, existing = _common_options(), _existing_database_options()
    server = commands.add_parser("serve", help="run the API server", parents=[common])
    server.add_argument("--host", help="address to listen on (BAY_SERVER__HOST; 127.0.0.1)")
    server.add_argument("--port", type=int, help="port to listen on (BAY_SERVER__PORT; 8114)")
    commands.add_parser("migrate", help="upgrade the database schema", parents=[common])
    keys = commands.add_parser("keys", help="manage API keys").add_subparsers(
        dest="keys_command", required=True
    )
    create = keys.add_parser(
        "create", help="create a key for an owner (shown once)", parents=[common, existing]
    )
    create.add_argument("--owner", required=True)
    create.add_argument("--admin", action="store_true", help="the key may call /v1/admin")
    keys.add_parser("list", help="list keys (never their secrets)", parents=[common, existing])
    gc = commands.add_parser("gc", help="garbage collection").add_subparsers(
        dest="gc_command", required=True
    )
    run = gc.add_parser(
        "run", help="run one GC cycle now and print its results", parents=[common, existing]
    )
    run.add_argument("--tasks", help="comma-separated task names (default: all enabled)")
    revoke = keys.add_parser(
        "revoke",
        help="deactivate a key (running Bays honour it within key_cache_seconds)",
        parents=[common, existing],
    )
    revoke.add_argument("key_id")
    return parser


def _common_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--config", type=Path, help="YAML settings file (BAY_CONFIG_FILE); the environment wins"
    )
    options.add_argument(
        "--data-dir", type=Path, help="database, credentials and cargos (BAY_DATA_DIR; ./.bay)"
    )
    return options


def _existing_database_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--create",
        action="store_true",
        help="make an empty database when the data dir has none (default: refuse)",
    )
    return options


def _settings(args: argparse.Namespace) -> Settings:
    """Settings with the command line over the environment, the YAML file and the defaults."""
    if args.config is not None:
        if not args.config.is_file():
            raise SystemExit(f"bay {args.command}: --config {args.config}: no such file")
        # Settings reads the YAML file's name from the environment, like every other setting.
        os.environ["BAY_CONFIG_FILE"] = str(args.config.absolute())
    overrides: dict[str, Any] = {}
    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir.absolute()
    server = {name: getattr(args, name, None) for name in ("host", "port")}
    if server := {name: value for name, value in server.items() if value is not None}:
        overrides["server"] = server
    return Settings(**overrides)


def _check_database(settings: Settings, args: argparse.Namespace) -> None:
    """Say which database an admin chore works on; refuse one that does not exist yet, which
    is almost always the wrong data dir (a fresh one would answer with no keys at all)."""
    url = make_url(settings.database_url)
    shown = url.render_as_string(hide_password=True)
    sys.stderr.write(f"bay: data dir {settings.data_dir}; database {shown}\n")
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return
    if getattr(args, "create", True) or Path(url.database).exists():
        return
    raise SystemExit(
        f"bay: no database at {url.database}. Point --data-dir (or BAY_DATA_DIR) at the data "
        "dir the server uses, or pass --create to make an empty one there."
    )


def serve(settings: Settings) -> None:
    app = create_app(settings, on_keys=lambda keys: _announce(settings, keys))
    # Bay logs each request itself (route template, status, duration; no query string).
    uvicorn.run(
        app,
        host=settings.server.host,
        port=settings.server.port,
        log_config=None,
        access_log=False,
    )


@asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[DbSession]:
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o711)
    engine = make_engine(settings.database_url)
    try:
        async with startup_lock(engine):  # a Bay replica may be starting meanwhile
            await migrate(engine)
        async with make_sessionmaker(engine)() as db, db.begin():
            yield db
    finally:
        await engine.dispose()


async def _migrate(settings: Settings, _: argparse.Namespace) -> None:
    async with _database(settings):
        pass


async def _keys(settings: Settings, args: argparse.Namespace) -> None:
    async with _database(settings) as db:
        keys = KeyService(db, utcnow)
        if args.keys_command == "create":
            created = await keys.create(args.owner, args.admin)
            _print(created.model_dump(mode="json"))
        elif args.keys_command == "list":
            _print((await keys.listing()).model_dump(mode="json"))
        else:
            await keys.revoke(args.key_id)
            _print({"id": args.key_id, "revoked": True})


async def _gc(settings: Settings, args: argparse.Namespace) -> None:
    """One cycle with this host's driver; the DB lease keeps it from racing a server's GC."""
    tasks = [t.strip() for t in args.tasks.split(",")] if args.tasks else None
    if unknown := sorted(set(tasks or ()) - set(TASKS)):
        raise SystemExit(f"bay gc run: no task {', '.join(unknown)}; the tasks: {', '.join(TASKS)}")
    quiet = settings.model_copy(
        update={
            "gc": settings.gc.model_copy(update={"enabled": False, "run_on_startup": False}),
            "metrics": settings.metrics.model_copy(update={"listen": None}),  # the server's
        }
    )
    app = create_app(quiet)
    async with app.router.lifespan_context(app) as state:
        gc = state["bay"]["gc"] if state else None
        assert gc is not None  # noqa: S101 - the lifespan always builds it
        _print((await gc.run_once(tasks=tasks)).model_dump(mode="json"))


_ACTIONS: dict[str, Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, None]]] = {
    "migrate": _migrate,
    "keys": _keys,
    "gc": _gc,
}


def _print(value: object) -> None:
    sys.stdout.write(json.dumps(value, indent=2) + "\n")


def _announce(settings: Settings, provisioned: Provisioned) -> None:
    """Where Bay listens goes to the log; a key it generated goes to a terminal, once, or nowhere.

    A key the operator gave is never shown, and neither is any key once a log collector
    could be reading stdout.
    """
    base = f"http://{settings.server.host}:{settings.server.port}"
    log.info("bay starting", url=base, driver=settings.driver.type, data_dir=str(settings.data_dir))
    key, path = provisioned.generated_key, provisioned.credentials_path
    if key is None or path is None:
        return
    if not sys.stdout.isatty():
        log.warning(
            "generated an admin API key: read it from the credentials file (mode 0600)",
            credentials=str(path),
        )
        return
    sys.stdout.write(_first_start_note(base, key, path))
    sys.stdout.flush()


def _first_start_note(base: str, key: str, path: Path) -> str:
    read_key = f"""python3 -c 'import json; print(json.load(open("{path}"))["api_key"])'"""
    return "\n".join(
        [
            "",
            f"Bay generated an admin API key (shown this once; saved to {path}, mode 0600):",
            "",
            f"    {key}",
            "",
            "Try:",
            f"  KEY=$({read_key})",
            f'  curl -s -X POST {base}/v1/sandboxes -H "Authorization: Bearer $KEY" '
            "-H 'Content-Type: application/json' -d '{}'",
            "",
            "",
        ]
    )
