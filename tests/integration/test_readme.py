"""The README's curl examples run as written, in order, in one shell: against a Bay of this
test's own (its port put where the README says 8114) and its key where `make run` saves it."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.bay_process import API_KEY, REPO, local_driver_missing, serving

pytestmark = [pytest.mark.local, pytest.mark.timeout(600)]


def readme_curl_blocks() -> list[str]:
    """Every ```sh block of the README that calls Bay at localhost:8114, unindented."""
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"^( *)```sh\n(.*?)^\1```", text, re.M | re.S)
    found = []
    for indent, body in blocks:
        if "localhost:8114" in body:
            found.append("\n".join(line.removeprefix(indent) for line in body.splitlines()))
    return found


def test_the_readme_curl_examples_work(tmp_path: Path) -> None:
    if (reason := local_driver_missing()) is not None:
        pytest.skip(reason)
    if shutil.which("curl") is None:
        pytest.fail("curl is missing: the README's examples use it")
    blocks = readme_curl_blocks()
    assert len(blocks) >= 4, blocks
    (tmp_path / ".bay").mkdir()
    (tmp_path / ".bay" / "credentials.json").write_text(json.dumps({"api_key": API_KEY}))
    with serving({"instance_id": "readme-test"}) as bay:
        script = "set -euo pipefail\n" + "\n".join(blocks).replace("localhost:8114", bay.url[7:])
        done = subprocess.run(
            ["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300
        )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert '"success":true,"output":"2"' in out
    assert "[['image/png', 'text/plain']]" in out
    assert "event: end" in out
    assert "Directory listing for /" in out
