"""docs/sdk.md's quickstart is at most 10 lines and runs as written against a Bay."""

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.unit.bay.conftest import ADMIN_KEY

DOC = Path(__file__).resolve().parents[2] / "docs" / "sdk.md"


def quickstart() -> str:
    blocks = re.findall(r"^```python\n(.*?)^```", DOC.read_text(), re.M | re.S)
    return str(blocks[0])


def test_it_is_at_most_ten_lines() -> None:
    assert len(quickstart().splitlines()) <= 10


def test_it_runs_as_written(live_url: str, tmp_path: Path) -> None:
    env = dict(os.environ, SHIPYARD_ENDPOINT=live_url, SHIPYARD_API_KEY=ADMIN_KEY)
    done = subprocess.run(
        [sys.executable, "-c", quickstart()],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    first, *rest = done.stdout.splitlines()
    assert re.fullmatch(r"42 3\.\d+\.\d+", first)
    assert rest[:2] == ["hi from the sandbox", "notes"]
