"""What a local sandbox sees as its filesystem: the sandbox environment's root filesystem, or,
where none was built, the host's /usr.

The sandbox environment (images/sandbox, built by `make rootfs`) is the one the Docker image is
made from: same distribution, packages, users and Python on both drivers, and nothing of the
host in view. The host's /usr is the fallback for hosts that cannot build it (no root, no
debootstrap): sandboxes then see the host's programs and its setuid binaries, so what they can
run depends on the host. Bay says so loudly at startup.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

from bay.drivers.base import DriverUnavailableError

WORKSPACE = "/workspace"
SHIP_PYTHON = "/opt/ship/bin/python"
# The environment's own definition of a sandbox's starting environment (images/sandbox).
ENV_FILE = "etc/shipyard/sandbox.env"

# Merged-/usr hosts have these as symlinks into usr/; older hosts have real directories.
_TOP_LEVEL = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
# Only what Python, bash and TLS read; the rest of /etc (shadow, ssh, cron ...) stays hidden.
_ETC = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "timezone",
    "nsswitch.conf",
    "host.conf",
    "gai.conf",
    "ssl/certs",
    "ssl/openssl.cnf",
    "alternatives",
    "bash.bashrc",
    "profile",
    "profile.d",
    "inputrc",
    "mime.types",
    "locale.alias",
    "terminfo",
)
_HOST_ENV = {
    "HOME": WORKSPACE,
    "USER": "shipyard",
    "LOGNAME": "shipyard",
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
}


@dataclass(frozen=True)
class Root:
    """bwrap's options for a sandbox's filesystem, and what runs on it."""

    # Placed first: the root itself (everything else mounts over it).
    base: list[str]
    # Placed after /proc, /dev and the tmpfs mounts, so a host venv under /tmp still shows.
    binds: list[str]
    # What every sandbox's environment starts with.
    env: dict[str, str]
    # Ship's interpreter, as a path inside the sandbox.
    python: str
    # Host paths a sandbox uid must be able to pass through.
    reached: list[Path] = field(default_factory=list)
    # Whether Bay writes each session's passwd, group and hosts (the host's are not shown).
    own_etc: bool = True
    # What Bay says at startup; empty for the sandbox environment.
    warning: str = ""


def sandbox_root(rootfs: Path) -> Root:
    """The sandbox environment at `rootfs`, read-only, as the sandbox's `/`."""
    venv = rootfs / SHIP_PYTHON.lstrip("/")
    if not rootfs.is_dir():
        raise DriverUnavailableError(
            f"no sandbox root filesystem at {rootfs} (driver.local.rootfs): `make rootfs` "
            "builds one; unset the setting to run over the host's /usr"
        )
    if not (venv.parent.parent / "pyvenv.cfg").is_file():
        raise DriverUnavailableError(
            f"{rootfs} has no Ship in /opt/ship: is it a sandbox root filesystem? "
            "(`make rootfs` builds one)"
        )
    env = read_env(rootfs / ENV_FILE)
    return Root(["--ro-bind", str(rootfs), "/"], [], env, SHIP_PYTHON, [rootfs], own_etc=False)


def read_env(path: Path) -> dict[str, str]:
    """NAME=value lines; `#` starts a comment line."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise DriverUnavailableError(f"cannot read the sandbox environment: {exc}") from exc
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            env[name.strip()] = value.strip()
    return env


def host_root(venv: Path, private: Path) -> Root:
    """The host's /usr and a few /etc files, read-only, with Ship's `venv` at its own path;
    `private` (Bay's data dir) must stay out of view."""
    if not (venv / "pyvenv.cfg").is_file():
        raise DriverUnavailableError(
            f"no Ship venv at {venv}: set driver.local.ship_venv (`make sync` builds .venv-ship)"
        )
    binds = usr_args() + _etc_args()
    for path in venv_paths(venv, private):
        binds += ["--ro-bind", str(path), str(path)]
    warning = (
        "sandboxes run over the host's /usr (driver.local.rootfs is not set): what they can "
        "run depends on this host, they see its programs and setuid binaries, and the data "
        "stack, Node and fonts of the sandbox environment are missing; `make rootfs` builds it"
    )
    return Root([], binds, dict(_HOST_ENV), str(venv / "bin" / "python"), [venv], True, warning)


def usr_args() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for name in _TOP_LEVEL:
        args += _mirror(Path("/", name))
    return args


def venv_paths(venv: Path, private: Path) -> list[Path]:
    """Ship's venv plus what it needs outside /usr: the base interpreter and editable sources.

    A venv made from an interpreter in /bin (pyvenv.cfg `home = /bin`) would need `/` itself;
    one inside a broad directory could show Bay's database and keys. Both are refused.
    """
    unique: list[Path] = []
    for path in [venv, *_base_prefix(venv), *_pth_dirs(venv)]:
        if path == Path("/") or private.is_relative_to(path):
            raise DriverUnavailableError(
                f"Ship's venv {venv} needs {path} in every sandbox, which would show "
                f"{'the whole host' if path == Path('/') else f'Bay data dir {private}'}; "
                "make the venv from an interpreter under /usr or its own prefix"
            )
        if not any(path.is_relative_to(seen) for seen in [Path("/usr"), *unique]):
            unique.append(path)
    return unique


def _etc_args() -> list[str]:
    args: list[str] = []
    for path in [Path("/etc", name) for name in _ETC] + sorted(Path("/etc").glob("python3*")):
        args += _mirror(path)
    return args


def _mirror(path: Path) -> list[str]:
    """Show a host path as itself: symlinks stay symlinks, the rest is bound read-only."""
    if path.is_symlink():
        return ["--symlink", os.readlink(path), str(path)]
    if path.exists():
        return ["--ro-bind", str(path), str(path)]
    return []


def _base_prefix(venv: Path) -> list[Path]:
    for line in (venv / "pyvenv.cfg").read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home":
            return [Path(value.strip()).parent]
    return []


def _pth_dirs(venv: Path) -> list[Path]:
    """Absolute directories named by .pth files (uv's editable installs of workspace members)."""
    dirs = []
    for pth in sorted(venv.glob("lib/python3*/site-packages/*.pth")):
        for line in pth.read_text().splitlines():
            entry = Path(line.strip())
            if entry.is_absolute() and entry.is_dir():
                dirs.append(entry)
    return dirs
