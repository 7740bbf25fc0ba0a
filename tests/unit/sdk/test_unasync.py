"""scripts/unasync.py: the sync SDK is what it writes from the async one, and drift is caught."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SDK = ROOT / "packages/sdk/src/shipyard"


def unasync(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "scripts/unasync.py", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


def test_the_sync_modules_are_as_generated() -> None:
    done = unasync("--check")
    assert done.returncode == 0, done.stderr


def test_an_edited_sync_module_is_named(tmp_path: Path) -> None:
    for module in SDK.glob("_async*.py"):
        shutil.copy(module, tmp_path)
    assert unasync(str(tmp_path)).returncode == 0
    assert unasync("--check", str(tmp_path)).returncode == 0
    edited = tmp_path / "_sync_execs.py"
    text = edited.read_text()
    assert "time.sleep(poll)" in text
    edited.write_text(text.replace("time.sleep(poll)", "time.sleep(poll * 2)"))

    checked = unasync("--check", str(tmp_path))
    assert checked.returncode == 1
    assert checked.stderr.splitlines() == [
        f"{edited} differs from what scripts/unasync.py writes",
        "run `python scripts/unasync.py` and commit the result",
    ]
