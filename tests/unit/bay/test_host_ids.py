"""Sandbox uids: a range no user holds, one uid per live session, recycled once it is gone."""

import os
from pathlib import Path

import pytest

from bay.drivers.base import DriverUnavailableError, InstanceStartError
from bay.drivers.host_ids import HostIds

START = 1_500_000_000  # no process, user or group here has these ids


def test_a_range_holding_a_real_user_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DriverUnavailableError, match=r"user nobody \(65534\)"):
        HostIds(65000, 1000, tmp_path, 64000)


def test_a_range_holding_the_cargo_owner_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DriverUnavailableError, match="cargo owner"):
        HostIds(START, 10, tmp_path, START + 3)


def test_each_live_session_gets_its_own_uid(tmp_path: Path) -> None:
    ids = HostIds(START, 2, tmp_path / "claims", 64000)
    runs = [tmp_path / name for name in ("a", "b", "c")]
    for run in runs:
        run.mkdir()
    assert [ids.claim(runs[0]), ids.claim(runs[1])] == [START, START + 1]
    with pytest.raises(InstanceStartError, match="in use"):
        ids.claim(runs[2])


def test_a_uid_is_recycled_after_release_or_when_its_run_dir_is_gone(tmp_path: Path) -> None:
    ids = HostIds(START, 1, tmp_path / "claims", 64000)
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    uid = ids.claim(first)
    ids.release(uid, second)  # not its holder: nothing happens
    with pytest.raises(InstanceStartError):
        ids.claim(second)
    ids.release(uid, first)
    assert ids.claim(second) == uid
    os.rmdir(second)  # a Bay died before releasing; its session is gone
    assert ids.claim(first) == uid
