"""The `bay` command: serve, migrate, and admin chores that work on the database directly."""

import argparse
import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession as DbSession

from bay import logs
from bay.app import create_app
from bay.config import Settings
from bay.db.engine import make_engine, make_sessionmaker, migrate, startup_lock
from bay.services.clock import utcnow
from bay.services.gc import TASKS
from bay.services.keys import KeyService, Provisioned


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    os.umask(0o077)  # the database and credentials are for Bay's eyes only
    logs.configure()
    settings = Settings()
    if args.command == "serve":
        serve(settings)
        return
    asyncio.run(_ACTIONS[args.command](settings, args))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bay", description="Shipyard Neo control plane")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the API server")
    commands.add_parser("migrate", help="upgrade the database schema")
    keys = commands.add_parser("keys", help="manage API keys").add_subparsers(
        dest="keys_command", required=True
    )
    create = keys.add_parser("create", help="create a key for an owner (shown once)")
    create.add_argument("--owner", required=True)
    create.add_argument("--admin", action="store_true", help="the key may call /v1/admin")
    keys.add_parser("list", help="list keys (never their secrets)")
    gc = commands.add_parser("gc", help="garbage collection").add_subparsers(
        dest="gc_command", required=True
    )
    run = gc.add_parser("run", help="run one GC cycle now and print its results")
    run.add_argument("--tasks", help="comma-separated task names (default: all enabled)")
    revoke = keys.add_parser(
        "revoke", help="deactivate a key (running Bays honour it within key_cache_seconds)"
    )
    revoke.add_argument("key_id")
    return parser


def serve(settings: Settings) -> None:
    app = create_app(settings, on_keys=lambda keys: _banner(settings, keys))
    uvicorn.run(app, host=settings.server.host, port=settings.server.port, log_config=None)


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
        update={"gc": settings.gc.model_copy(update={"enabled": False, "run_on_startup": False})}
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


def _banner(settings: Settings, provisioned: Provisioned) -> None:
    key = provisioned.generated_key or settings.admin_key or _saved_key(provisioned)
    base = f"http://{settings.server.host}:{settings.server.port}"
    token = key or "$BAY_API_KEY"
    lines = [
        "",
        f"Bay is starting on {base} (driver: {settings.driver.type}, data: {settings.data_dir})",
        f"API key: {key}" if key else "API key: the one you configured or generated earlier",
    ]
    if provisioned.generated_key and provisioned.credentials_path:
        lines.append(f"(generated now; saved to {provisioned.credentials_path}, mode 0600)")
    lines += [
        "Try:",
        f"  curl -s -X POST {base}/v1/sandboxes -H 'Authorization: Bearer {token}' "
        "-H 'Content-Type: application/json' -d '{}'",
        f"  curl -s -X POST {base}/v1/sandboxes/SANDBOX_ID/python/exec "
        f"-H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' "
        """-d '{"code": "print(1+1)"}'""",
        "",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def _saved_key(provisioned: Provisioned) -> str | None:
    path = provisioned.credentials_path
    if path is None or not path.exists():
        return None
    return str(json.loads(path.read_text())["api_key"])
