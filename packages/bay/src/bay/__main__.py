"""The `bay` command: `bay serve` runs the server, `bay migrate` upgrades the schema."""

import argparse
import asyncio
import json
import logging
import os
import sys

import uvicorn

from bay.app import create_app
from bay.config import Settings
from bay.db.engine import make_engine, migrate
from bay.services.keys import Provisioned


def _banner(settings: Settings, provisioned: Provisioned) -> None:
    key = provisioned.generated_key or settings.admin_key or _saved_key(provisioned)
    base = f"http://{settings.server.host}:{settings.server.port}"
    lines = [
        "",
        f"Bay is starting on {base} (driver: {settings.driver.type}, data: {settings.data_dir})",
        f"API key: {key}" if key else "API key: the one you configured or generated earlier",
    ]
    if provisioned.generated_key and provisioned.credentials_path:
        lines.append(f"(generated now; saved to {provisioned.credentials_path}, mode 0600)")
    token = key or "$BAY_API_KEY"
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


def serve(settings: Settings) -> None:
    app = create_app(settings, on_keys=lambda keys: _banner(settings, keys))
    uvicorn.run(app, host=settings.server.host, port=settings.server.port, log_config=None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bay", description="Shipyard Neo control plane")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the API server")
    commands.add_parser("migrate", help="upgrade the database schema")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    os.umask(0o077)  # the database and credentials are for Bay's eyes only
    settings = Settings()
    if args.command == "serve":
        serve(settings)
    elif args.command == "migrate":
        asyncio.run(_migrate(settings))


async def _migrate(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = make_engine(settings.database_url)
    await migrate(engine)
    await engine.dispose()


if __name__ == "__main__":
    main()
