"""docs/cli.md's quickstart runs as written, in one shell, against a Bay."""

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.unit.bay.conftest import ADMIN_KEY

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_it_runs_as_written(live_url: str, tmp_path: Path) -> None:
    block = re.findall(r"^```sh\n(.*?)^```", DOC.read_text(), re.M | re.S)[0]
    script = "set -euo pipefail\n" + block.replace("http://127.0.0.1:8114", live_url)
    script = script.replace("sk-…", ADMIN_KEY)
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")} | {"PATH": path}
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "1024\n" in done.stdout
    assert "hi.txt" in done.stdout
    assert (tmp_path / "hi.txt").read_text() == "hi\n"
    assert re.search(r"^deleted sandbox-\w+$", done.stdout, re.M)
