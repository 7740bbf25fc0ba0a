"""The README's commands run as written, in order: `make run` itself (on a data dir of this
test's own, its port put where the README says 8114), then every shell block that talks to Bay
and every Python example, in one shell each, from a directory where `.bay/credentials.json` is
that Bay's. Blocks that cannot run here are listed, each with the reason, and a new block the
list does not know fails the test until it is run or listed."""

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.bay_process import REPO, free_port, local_driver_missing, traversable_tmp

pytestmark = [pytest.mark.local, pytest.mark.timeout(1500)]

# First lines of the blocks this test does not run, and why.
NOT_RUN = {
    "make run    # start Bay": "the set-up commands: CI runs `make test`, and this test `make run`",
    "BAY_DATABASE__URL=": "example values of a setting, for a PostgreSQL server of the reader's",
    "apt-get install docker.io": "installs packages and starts dockerd, as CI's .ci/run does",
}
# Lines a user ends with Ctrl-C (their comment says so): the test sends SIGINT after a while.
CTRL_C_AFTER_S = 5


@dataclass(frozen=True)
class Block:
    language: str
    body: str

    @property
    def first_line(self) -> str:
        return self.body.splitlines()[0] if self.body else ""


def readme_blocks() -> list[Block]:
    """Every fenced block of the README, unindented, in order."""
    text = (REPO / "README.md").read_text()
    found = []
    for indent, language, body in re.findall(r"^( *)```(\w*)\n(.*?)^\1```", text, re.M | re.S):
        lines = [line.removeprefix(indent) for line in body.splitlines()]
        found.append(Block(language, "\n".join(lines)))
    return found


def runnable(block: Block) -> bool:
    return block.language in ("sh", "bash", "python") and not any(
        block.first_line.startswith(prefix) for prefix in NOT_RUN
    )


def test_every_command_block_is_run_or_says_why_not() -> None:
    commands = [b for b in readme_blocks() if b.language in ("sh", "bash", "python")]
    listed = [b for b in commands if not runnable(b)]
    assert {prefix for prefix in NOT_RUN} == {
        next(p for p in NOT_RUN if b.first_line.startswith(p)) for b in listed
    }, "a NOT_RUN entry matches no block of the README any more"
    assert len([b for b in commands if runnable(b)]) >= 8


def test_the_readme_runs_as_written(tmp_path: Path) -> None:
    if (reason := local_driver_missing()) is not None:
        pytest.skip(reason)
    for tool in ("curl", "make", "sha256sum"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: the README's commands use it")
    with traversable_tmp() as base, make_run(base / "bay") as url:
        work = tmp_path / "work"
        work.mkdir()
        (work / ".bay").symlink_to(base / "bay")  # the README's commands run from the checkout
        (work / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024))  # "your file"
        env = {
            **os.environ,
            "SHIPYARD_ENDPOINT": url,
            "SHIPYARD_API_KEY": _key(base / "bay"),
            "PYTHONPATH": "",
        }
        env.pop("BAY_API_KEY", None)
        blocks = [block for block in readme_blocks() if runnable(block)]
        shell = [block for block in blocks if block.language != "python"]
        outputs = [_run_shell(shell, work, env, url)]
        outputs += [_run_python(block, work, env) for block in blocks if block not in shell]
        _delete_all(url, env["SHIPYARD_API_KEY"])
    out = "\n".join(outputs)
    assert '"success":true,"output":"2"' in out
    assert "[['image/png', 'text/plain']]" in out
    assert "event: end" in out
    assert "Directory listing for /" in out
    assert "1024" in out  # the SDK's and the CLI's first examples
    assert "\n3\n" in out  # `shipyard exec shell "...; exit 3"; echo $?`
    assert 'about:blank","error":null' in out  # the browser section's first command


@contextmanager
def make_run(data_dir: Path) -> Iterator[str]:
    """`make run` from the checkout, as the README says, on `data_dir` and a free port; stopped
    (its whole process group, by the leader's pid) afterwards."""
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("BAY_") and key != "VIRTUAL_ENV"
    }
    # A user's shell, not this test's `uv run`: no venv on PATH.
    venv = str(REPO / ".venv")
    env["PATH"] = os.pathsep.join(
        part for part in env.get("PATH", "").split(os.pathsep) if not part.startswith(venv)
    )
    env.update(BAY_DATA_DIR=str(data_dir), BAY_SERVER__PORT=str(port))
    env["BAY_INSTANCE_ID"] = f"readme-{port}"
    log = data_dir.parent / "make-run.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["make", "run"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 900  # a first `make run` builds the sandbox environment
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"make run exited {process.returncode}: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"make run did not serve in 900 s: {log.read_text()[-3000:]}")


def _key(data_dir: Path) -> str:
    return str(json.loads((data_dir / "credentials.json").read_text())["api_key"])


def _run_shell(blocks: list[Block], cwd: Path, env: dict[str, str], url: str) -> str:
    """The shell blocks in order in one shell (later ones use what earlier ones set), with the
    port and the checkout's path put where the README has 8114 and $PWD."""
    script = "\n".join(block.body for block in blocks)
    script = script.replace("localhost:8114", url.removeprefix("http://"))
    script = script.replace('"$PWD/.venv/bin', f'"{REPO}/.venv/bin')
    lines = [_with_ctrl_c(_shown_exit(line)) for line in script.splitlines()]
    return _done(["bash", "-c", "set -eo pipefail\n" + "\n".join(lines)], cwd, env)


def _run_python(block: Block, cwd: Path, env: dict[str, str]) -> str:
    if "from shipyard import Client" not in block.body:
        pytest.fail(f"a Python example that does not import what it uses:\n{block.body}")
    return _done([str(REPO / ".venv" / "bin" / "python"), "-c", block.body], cwd, env)


def _done(argv: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, f"{argv[-1][:300]}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _shown_exit(line: str) -> str:
    """`command; echo $?` shows the command's exit code on purpose: not a failure of the run."""
    command, shown, rest = line.partition("; echo $?")
    if not shown:
        return line
    return f"{{ {command}; }} && echo 0 || echo $?{rest}"


def _with_ctrl_c(line: str) -> str:
    """A line the README says to leave with Ctrl-C gets it after a few seconds."""
    if "Ctrl-C" not in line.partition("#")[2]:
        return line
    command = line.partition("#")[0].rstrip()
    # timeout's 124 is the Ctrl-C the user gives; anything else is the command's own failure.
    return (
        f"timeout -s INT {CTRL_C_AFTER_S} {command} || {{ rc=$?; [ $rc = 124 ] || [ $rc = 130 ]; }}"
    )


def _delete_all(url: str, key: str) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client:
        for item in client.get("/v1/sandboxes", params={"limit": 200}).json()["items"]:
            client.delete(f"/v1/sandboxes/{item['id']}")
