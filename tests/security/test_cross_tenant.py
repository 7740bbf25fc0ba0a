"""One tenant's sandbox must not reach, exhaust or share kernel state with another's."""

import json
import os
from pathlib import Path

import pytest

from bay.config import LocalDriverSettings
from bay.drivers.base import Instance
from tests.engines import py, sh

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(300)]

# Hold every inotify instance the per-uid limit allows, in the kernel's variables.
EXHAUST_INOTIFY = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
held = []
while len(held) < 4096:
    fd = libc.inotify_init1(0)
    if fd < 0:
        break
    held.append(fd)
print(len(held), os.strerror(ctypes.get_errno()))
"""
ONE_INOTIFY = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(0)
print("ok" if fd >= 0 else os.strerror(ctypes.get_errno()))
if fd >= 0:
    os.close(fd)
"""
RELEASE_INOTIFY = "for fd in held:\n    os.close(fd)\nheld.clear()"


def host_uid_of(data_dir: Path, ref: str) -> int:
    record = json.loads((data_dir / "run" / ref / "session.json").read_text())
    return os.stat(f"/proc/{record['child_pid']}").st_uid


async def test_inotify_exhaustion_stays_in_one_sandbox(
    variant: str, sandbox: Instance, neighbour: Instance, request: pytest.FixtureRequest
) -> None:
    if variant == "docker":
        # Known hole, kept visible: every runc container runs as host uid 1000, so they share
        # per-uid kernel limits. A uid per container needs idmapped cargo mounts there too.
        request.applymarker(pytest.mark.xfail(strict=True, reason="runc containers share uid 1000"))
    exhausted = await py(sandbox, EXHAUST_INOTIFY)
    try:
        assert exhausted["success"], exhausted
        assert int(exhausted["text"].split()[0]) > 0
        seen = await py(neighbour, ONE_INOTIFY)
        assert seen["success"], seen
        assert seen["text"].strip() == "ok"
    finally:
        await py(sandbox, RELEASE_INOTIFY)


async def test_neighbour_processes_are_invisible(sandbox: Instance, neighbour: Instance) -> None:
    marker = "sleep 3141"
    started = await sh(neighbour, f"nohup {marker} >/dev/null 2>&1 & echo started")
    assert "started" in started["stdout"]
    listed = await sh(sandbox, "cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '")
    assert "3141" not in listed["stdout"]


@pytest.mark.parametrize("variant", ["local"], indirect=True)
async def test_sessions_run_as_host_uids_of_their_own(
    sandbox: Instance, neighbour: Instance, data_dir: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("only a root Bay gives sandboxes host uids (Bay runs unprivileged here)")
    settings = LocalDriverSettings()
    mine, theirs = host_uid_of(data_dir, sandbox.ref), host_uid_of(data_dir, neighbour.ref)
    assert mine != theirs
    for uid in (mine, theirs):
        assert settings.uid_start <= uid < settings.uid_start + settings.uid_count


@pytest.mark.parametrize("variant", ["local"], indirect=True)
async def test_cargo_files_keep_their_owner_on_disk(sandbox: Instance, data_dir: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("only a root Bay gives sandboxes host uids (Bay runs unprivileged here)")
    made = await sh(sandbox, "echo hi > owned.txt && stat -c '%u' owned.txt")
    assert made["stdout"].strip() == "1000"  # the sandbox's own user, seen from inside
    cargo = data_dir / "cargos" / sandbox.labels.cargo_id / "owned.txt"
    assert cargo.stat().st_uid == LocalDriverSettings().host_uid
