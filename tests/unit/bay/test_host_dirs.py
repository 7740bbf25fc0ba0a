"""What the host drivers share on disk: safe names, run dirs, Ship's socket, the cargo store."""

import socket
from pathlib import Path

import pytest

from bay.drivers import host_dirs
from bay.drivers.base import CargoSpec, DriverError, InstanceStartError
from bay.drivers.cargo_store import CargoStore


@pytest.mark.parametrize("name", ["..", "a/b", "", ".hidden", "x" * 129])
def test_a_name_that_could_leave_its_root_is_refused(name: str) -> None:
    with pytest.raises(DriverError, match="invalid name for a local driver resource"):
        host_dirs.checked(name, "local")


def test_a_socket_path_too_long_to_bind_refuses_the_start(tmp_path: Path) -> None:
    host_dirs.check_socket_path(tmp_path / "ship.sock")
    with pytest.raises(InstanceStartError, match="socket path too long"):
        host_dirs.check_socket_path(tmp_path / ("x" * 120) / "ship.sock")


def test_a_run_dir_is_claimed_once(tmp_path: Path) -> None:
    host_dirs.claim(tmp_path / "sess-1")
    assert (tmp_path / "sess-1").stat().st_mode & 0o777 == 0o700
    with pytest.raises(FileExistsError):
        host_dirs.claim(tmp_path / "sess-1")


def test_only_a_socket_itself_passes_for_ships_socket(tmp_path: Path) -> None:
    real, link = tmp_path / "s", tmp_path / "link"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(real))
        link.symlink_to(real)
        host_dirs.require_socket(real, "sess-1")
        for path in (link, tmp_path / "missing"):
            with pytest.raises(InstanceStartError, match="sess-1: Ship's socket is not a socket"):
                host_dirs.require_socket(path, "sess-1")


async def test_cargo_verbs_keep_to_the_cargos_root(tmp_path: Path) -> None:
    store = CargoStore(tmp_path, owner_uid=None, want_quota=False)
    store.root.mkdir()
    ref = await store.create_cargo(CargoSpec("ws-1", "alice", 10, managed=True))
    assert store.existing(ref) == tmp_path.absolute() / "cargos" / "ws-1"
    assert [c.cargo_id for c in await store.list_cargos()] == ["ws-1"]
    with pytest.raises(DriverError, match="not a cargo of this driver"):
        await store.delete_cargo(str(tmp_path))
    with pytest.raises(InstanceStartError, match="not a cargo of this driver"):
        store.existing(str(tmp_path / "elsewhere"))
    await store.delete_cargo(ref)
    await store.delete_cargo(ref)  # a missing cargo is fine
    assert await store.list_cargos() == []
