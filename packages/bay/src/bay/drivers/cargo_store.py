"""Cargo storage on this host: a directory per cargo, a loop-mounted ext4 image when quotas hold.

A size limit that the kernel enforces needs a filesystem of that size: when Bay runs as root
with loop devices and mkfs.ext4, each cargo is a sparse image file mounted on its directory,
so a write past the limit fails inside the sandbox with ENOSPC. Elsewhere cargos are plain
directories and `quota` is False (the limit is then advisory and Bay says so at startup).
"""

import asyncio
import contextlib
import logging
import os
import shutil
from pathlib import Path

from bay.drivers.base import CargoSpec, CargoStorage, DriverError, InstanceStartError
from bay.drivers.host_dirs import NAME, mapped

logger = logging.getLogger(__name__)

_TOOLS = ("mkfs.ext4", "mount", "umount")


class CargoStore:
    """Cargo directories under `{data_dir}/cargos`, images under `{data_dir}/cargo-images`."""

    def __init__(self, data_dir: Path, owner_uid: int | None, want_quota: bool = True) -> None:
        self.root = data_dir.absolute() / "cargos"
        self._images = data_dir.absolute() / "cargo-images"
        self._owner_uid = owner_uid
        self.quota, self.reason = _quota_support(want_quota)

    async def create_cargo(self, spec: CargoSpec) -> str:
        """The `create_cargo` verb of the drivers that keep cargos here."""
        with mapped(DriverError, f"create cargo {spec.cargo_id}"):
            return str(await self.create(spec.cargo_id, spec.size_limit_mb))

    async def delete_cargo(self, driver_ref: str) -> None:
        """The `delete_cargo` verb: only directories under the cargos root go."""
        with mapped(DriverError, f"delete cargo {driver_ref}"):
            await self.delete(driver_ref)

    async def list_cargos(self) -> list[CargoStorage]:
        """The `list_cargos` verb: every cargo directory, with its creation time."""
        with mapped(DriverError, "list cargos"):
            return self.storages()

    def existing(self, driver_ref: str) -> Path:
        """The directory a session binds at /workspace; InstanceStartError if it is not ours."""
        cargo = Path(driver_ref)
        if cargo.parent != self.root or not cargo.is_dir():
            raise InstanceStartError(f"not a cargo of this driver: {driver_ref}")
        return cargo

    def path(self, cargo_id: str) -> Path:
        if not NAME.fullmatch(cargo_id):
            raise DriverError(f"not a cargo id: {cargo_id!r}")
        return self.root / cargo_id

    def owns(self, driver_ref: str) -> Path:
        path = Path(driver_ref)
        if path.parent != self.root or not NAME.fullmatch(path.name):
            raise DriverError(f"not a cargo of this driver: {driver_ref}")
        return path

    async def create(self, cargo_id: str, size_mb: int) -> Path:
        """Make the cargo's directory (mounted on its own image when quotas hold)."""
        path = self.path(cargo_id)
        path.mkdir(mode=0o700, exist_ok=True)
        if self.quota:
            await self._make_image(cargo_id, size_mb)
            await self.ensure_mounted(path)
        self._give(path)
        return path

    async def ensure_mounted(self, path: Path) -> None:
        """Mount the cargo's image if it has one and it is not mounted (e.g. after a reboot)."""
        image = self._images / f"{path.name}.img"
        if not self.quota or not image.exists() or await _mounted(path):
            return
        await _run("mount", "-o", "loop,nosuid,nodev", str(image), str(path))
        with contextlib.suppress(FileNotFoundError, OSError):
            (path / "lost+found").rmdir()
        self._give(path)

    async def delete(self, driver_ref: str) -> None:
        """Unmount, then remove the directory and the image; a missing cargo is fine."""
        path = self.owns(driver_ref)
        if await _mounted(path):
            await _run("umount", "--lazy", str(path))
        # A cargo may hold a million files: never walk it on the event loop.
        await asyncio.to_thread(shutil.rmtree, path, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            (self._images / f"{path.name}.img").unlink()

    def storages(self) -> list[CargoStorage]:
        if not self.root.exists():
            return []
        return [
            CargoStorage(entry.name, str(entry), entry.stat().st_mtime)
            for entry in sorted(self.root.iterdir())
            if entry.is_dir() and NAME.fullmatch(entry.name)
        ]

    async def _make_image(self, cargo_id: str, size_mb: int) -> None:
        self._images.mkdir(mode=0o700, exist_ok=True)
        image = self._images / f"{cargo_id}.img"
        if image.exists():
            return
        partial = image.with_suffix(".part")
        with partial.open("wb") as handle:
            handle.truncate(size_mb * 1024 * 1024)
        await _run("mkfs.ext4", "-q", "-F", "-m", "0", str(partial))
        partial.rename(image)

    def _give(self, path: Path) -> None:
        if self._owner_uid is not None:
            os.chown(path, self._owner_uid, self._owner_uid)
        path.chmod(0o700)


def _quota_support(wanted: bool) -> tuple[bool, str]:
    if not wanted:
        return False, "cargo size limits are turned off"
    if os.geteuid() != 0:
        return False, "cargo size limits need root (loop-mounted images); cargos are plain dirs"
    missing = [tool for tool in _TOOLS if shutil.which(tool) is None]
    if missing:
        return False, f"cargo size limits need {', '.join(missing)}; cargos are plain dirs"
    if not Path("/dev/loop-control").exists():
        return False, "cargo size limits need loop devices; cargos are plain dirs"
    return True, "cargo size limits enforced by a loop-mounted ext4 image per cargo"


async def _mounted(path: Path) -> bool:
    return await asyncio.to_thread(os.path.ismount, path)


async def _run(*command: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        text = output.decode(errors="replace").strip()
        raise DriverError(f"{command[0]} failed ({process.returncode}): {text}")
