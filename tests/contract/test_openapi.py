"""The OpenAPI document is committed: an accidental API change fails here.

After a deliberate change, refresh it with `UPDATE_OPENAPI=1 make test`.
"""

import json
import os
from pathlib import Path

import httpx

from tests.contract.conftest import Target

SNAPSHOT = Path(__file__).with_name("openapi.json")


def test_openapi_matches_the_snapshot(target: Target) -> None:
    live = httpx.get(f"{target.url}/openapi.json").json()
    if os.environ.get("UPDATE_OPENAPI") == "1":
        SNAPSHOT.write_text(json.dumps(live, indent=2, sort_keys=True) + "\n")
    assert live == json.loads(SNAPSHOT.read_text())
