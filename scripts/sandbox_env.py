#!/usr/bin/env python3
"""Build the sandbox environment that images/sandbox describes, once, for every driver.

    sandbox_env.py rootfs   the root filesystem the local driver runs (Debian + Ship)
    sandbox_env.py image    the Docker image, made from that same root filesystem

Two stages, each cached under the store by a hash of what decides its content:
  env-<hash>     Debian bookworm from debootstrap, the recipe's packages, the user's Python
                 packages in /usr/local, npm globals, users and configuration: what users see.
  rootfs-<hash>  env plus the top layer: Ship's own venv in /opt/ship and the recipe's
                 configuration files (sandbox.env, matplotlibrc); a hard-linked copy of env.
`.tools/sandbox/rootfs` (in the checkout) links to the newest rootfs; Makefile hands it to Bay.
A rebuild with nothing changed only hashes the inputs.

Only Debian's archive (the mirrors this machine's apt uses), the Python package index pip is
configured with, and npm's configured registry are reached; their names are read from this
machine's configuration, never written here. The host's own CAs are added to the environment,
so TLS through a re-signing proxy works inside as it does outside.

Environment: SHIPYARD_SANDBOX_STORE (default /var/lib/shipyard/sandbox), SHIP_IMAGE
(default shipyard/ship:latest), UV (default: uv on PATH or .tools/bin/uv).
"""

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RECIPE = REPO / "images" / "sandbox"
STORE = Path(os.environ.get("SHIPYARD_SANDBOX_STORE", "/var/lib/shipyard/sandbox"))
LINKS = REPO / ".tools" / "sandbox"
# Every checkout's LINKS, so that no build prunes what another checkout still uses.
CHECKOUTS = STORE / "checkouts"
IMAGE = os.environ.get("SHIP_IMAGE", "shipyard/ship:latest")
SUITE = "bookworm"
SANDBOX_UID = 1000
HOST_CAS = Path("/usr/local/share/ca-certificates")
# What Ship's venv is called inside, and the directory the kernel appends to its path to find
# Ship's kernel modules (and nothing else of Ship's).
SHIP_PREFIX = "opt/ship"
# Part of the environment's hash with the recipe: raise it when a change to this script changes
# what build_env makes (the rest of the script may change without rebuilding the environment).
ENV_BUILD_VERSION = 5
# Recipe files of the top layer (with Ship): changing them rebuilds only that (seconds).
TOP_LAYER = [RECIPE / "sandbox.env", RECIPE / "matplotlibrc", RECIPE / "Dockerfile"]
BUILD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def say(message: str) -> None:
    print(f"sandbox: {message}", flush=True)


class BuildError(Exception):
    pass


# --- inputs and their hashes ---------------------------------------------------------------


def _files(*roots: Path) -> list[Path]:
    found: list[Path] = []
    for root in roots:
        if root.is_file():
            found.append(root)
            continue
        for path in root.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                found.append(path)
    return sorted(found)


def _digest(parts: Iterator[bytes]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()[:16]


def env_hash() -> str:
    """The recipe, ENV_BUILD_VERSION and what of the host is baked in (its CAs, its package
    indexes) decide the environment."""

    def parts() -> Iterator[bytes]:
        yield str(ENV_BUILD_VERSION).encode()
        yield repr(sorted(host_indexes().items())).encode()
        for path in [p for p in _files(RECIPE) if p not in TOP_LAYER]:
            yield str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes()
        for path in _host_ca_files():
            yield str(path).encode() + b"\0" + path.read_bytes()

    return _digest(parts())


def ship_hash(env: str) -> str:
    def parts() -> Iterator[bytes]:
        yield env.encode()
        yield ship_requirements().encode()
        for path in TOP_LAYER:
            yield path.name.encode() + b"\0" + path.read_bytes()
        for path in _files(REPO / "packages" / "ship", REPO / "packages" / "protocol"):
            yield str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes()

    return _digest(parts())


def _host_ca_files() -> list[Path]:
    return sorted(HOST_CAS.glob("*.crt")) if HOST_CAS.is_dir() else []


def _uv() -> str:
    return os.environ.get("UV") or shutil.which("uv") or str(REPO / ".tools" / "bin" / "uv")


def ship_requirements() -> str:
    return _output(
        [
            _uv(),
            *("export", "--package", "shipyard-ship", "--no-dev", "--no-hashes", "--frozen"),
            *("--no-emit-workspace", "--format", "requirements-txt", "--quiet"),
        ]
    )


def recipe_lines(name: str) -> list[str]:
    """The words of a recipe file, comments and blank lines left out."""
    words: list[str] = []
    for line in (RECIPE / name).read_text().splitlines():
        words += line.partition("#")[0].split()
    return words


def sandbox_env() -> dict[str, str]:
    """images/sandbox/sandbox.env as a mapping (the format the local driver reads too)."""
    env: dict[str, str] = {}
    for line in (RECIPE / "sandbox.env").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name.strip()] = value.strip()
    return env


# --- running things --------------------------------------------------------------------------


def _run(argv: Sequence[str], **kwargs: object) -> None:
    done = subprocess.run(argv, check=False, **kwargs)  # type: ignore[call-overload]
    if done.returncode != 0:
        raise BuildError(f"{argv[0]} failed (exit {done.returncode}): {' '.join(argv)[:300]}")


def _output(argv: Sequence[str]) -> str:
    done = subprocess.run(argv, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise BuildError(f"{argv[0]} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


def inside(
    root: Path, script: str, binds: Sequence[tuple[str, str]] = (), quiet: bool = True
) -> None:
    """Run a shell script as root inside `root` (bubblewrap, the host's network for the
    archive and the index); `binds` are (host path, path inside) shown read-only."""
    argv = ["bwrap", "--bind", str(root), "/", "--proc", "/proc", "--dev", "/dev"]
    argv += [
        "--perms",
        "1777",
        "--tmpfs",
        "/tmp",
        "--ro-bind",
        "/etc/resolv.conf",
        "/etc/resolv.conf",
    ]
    for host, there in binds:
        argv += ["--ro-bind", host, there]
    argv += ["--clearenv", "--setenv", "PATH", BUILD_PATH, "--setenv", "HOME", "/root"]
    argv += ["--setenv", "DEBIAN_FRONTEND", "noninteractive", "--setenv", "LANG", "C.UTF-8"]
    argv += ["/bin/sh", "-euc", script]
    with tempfile.TemporaryFile() as log:
        done = subprocess.run(
            argv, check=False, stdout=log if quiet else None, stderr=subprocess.STDOUT
        )
        if done.returncode != 0:
            log.seek(0)
            tail = log.read()[-4000:].decode(errors="replace")
            raise BuildError(
                f"a build step failed in {root.name} (exit {done.returncode}):\n{tail}"
            )


class Step:
    """One progress line per build step, with its time."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        say(f"{self.what} ...")
        self.started = time.monotonic()

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            say(f"  done in {time.monotonic() - self.started:.0f} s")


# --- stage 1: the environment ------------------------------------------------------------------


def debian_mirrors() -> list[tuple[str, str]]:
    """(URI, suite) pairs of this machine's apt sources for bookworm, in its own order."""
    pairs: list[tuple[str, str]] = []
    sources = Path("/etc/apt/sources.list.d")
    for path in sorted(sources.glob("*.sources")) if sources.is_dir() else []:
        for stanza in re.split(r"\n\s*\n", path.read_text()):
            fields = _deb822(stanza)
            if "deb" in fields.get("Types", "").split() and fields.get("Enabled", "yes") != "no":
                for uri in fields.get("URIs", "").split():
                    pairs += [(uri, s) for s in fields.get("Suites", "").split()]
    for path in [Path("/etc/apt/sources.list"), *sorted(sources.glob("*.list"))]:
        for line in path.read_text().splitlines() if path.is_file() else []:
            words = re.sub(r"\[[^]]*\]", "", line.partition("#")[0]).split()
            if len(words) >= 3 and words[0] == "deb":
                pairs.append((words[1], words[2]))
    return [(uri, suite) for uri, suite in pairs if suite.split("/")[0].startswith(SUITE)]


def _deb822(stanza: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in stanza.splitlines():
        if line.startswith("#") or ":" not in line or line[:1].isspace():
            continue
        name, _, value = line.partition(":")
        fields[name.strip()] = value.strip()
    return fields


def build_env(dest: Path) -> None:
    """Each step's end is marked beside the work dir, so a failed build resumes where it broke."""
    mirrors = debian_mirrors()
    main = next((uri for uri, suite in mirrors if suite == SUITE), None)
    if main is None:
        raise BuildError(f"this machine's apt sources name no Debian {SUITE} mirror")
    work = dest.with_name(f".{dest.name}.build")
    done = dest.with_name(f".{dest.name}.steps")
    steps: list[tuple[str, str, Callable[[], None]]] = [
        ("debootstrap", f"debootstrap {SUITE} (minbase)", lambda: _debootstrap(work, main)),
        (
            "apt",
            "Debian packages: " + " ".join(recipe_lines("packages.txt")),
            lambda: _debian_packages(work, mirrors),
        ),
        ("python", "Python packages (requirements.txt)", lambda: _python_packages(work)),
        (
            "npm",
            "npm packages: " + " ".join(recipe_lines("npm-globals.txt")),
            lambda: _npm_globals(work),
        ),
        ("configure", "users and configuration", lambda: _configure(work)),
    ]
    if not (done / "debootstrap").exists():
        _fresh(done).mkdir()
    for key, what, step in steps:
        if (done / key).exists():
            say(f"{what}: done in an earlier run")
            continue
        started = time.monotonic()
        with Step(what):
            step()
        (done / key).write_text(f"{time.monotonic() - started:.1f}")
    times = {key: float((done / key).read_text() or 0) for key, _, _ in steps}
    record = {"seconds": sum(times.values()), "steps": times}
    dest.with_name(f"{dest.name}.build.json").write_text(json.dumps(record))  # for make bench
    work.rename(dest)
    shutil.rmtree(done)


def _debootstrap(work: Path, mirror: str) -> None:
    _fresh(work)
    argv = [
        "debootstrap",
        "--variant=minbase",
        "--include=ca-certificates",
        SUITE,
        str(work),
        mirror,
    ]
    _run(argv, stdout=subprocess.DEVNULL)


def _debian_packages(root: Path, mirrors: list[tuple[str, str]]) -> None:
    _apt_sources(root, mirrors)
    _host_cas(root)
    packages = " ".join(recipe_lines("packages.txt"))
    inside(
        root,
        f"apt-get update -qq\napt-get install -y -qq --no-install-recommends {packages}\n"
        "apt-get clean\nrm -rf /var/lib/apt/lists/*\n",
    )


def _fresh(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _apt_sources(root: Path, mirrors: list[tuple[str, str]]) -> None:
    keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
    lines = [f"deb [signed-by={keyring}] {uri} {suite} main" for uri, suite in mirrors]
    (root / "etc/apt/sources.list").write_text("\n".join(dict.fromkeys(lines)) + "\n")


def _host_cas(root: Path) -> None:
    """The host's own CAs join the environment's bundle (update-ca-certificates runs again
    whenever apt touches ca-certificates)."""
    target = root / "usr/local/share/ca-certificates"
    target.mkdir(parents=True, exist_ok=True)
    for path in _host_ca_files():
        shutil.copyfile(path, target / path.name)
    inside(root, "update-ca-certificates >/dev/null")


def _python_packages(root: Path) -> None:
    """Wheels are fetched on the host with its own pip configuration, then installed offline."""
    with tempfile.TemporaryDirectory() as scratch:
        constraints = Path(scratch) / "constraints.txt"
        constraints.write_text(ship_requirements())
        wheels = download_wheels(
            root, ["-r", str(RECIPE / "requirements.txt"), "-c", str(constraints)]
        )
        binds = [(str(wheels), "/wheels"), (str(RECIPE / "requirements.txt"), "/requirements.txt")]
        binds.append((str(constraints), "/constraints.txt"))
        inside(
            root,
            "python3 -m pip install -q --no-index --find-links /wheels --break-system-packages "
            "--root-user-action=ignore --no-warn-script-location "
            "-r /requirements.txt -c /constraints.txt\n",
            binds,
        )


def download_wheels(root: Path, requirements: list[str]) -> Path:
    """Wheels for the environment's interpreter (its exact version: some releases need a later
    3.11 than Debian's), into the shared cache, which it returns."""
    cache = STORE / "cache" / "wheels"
    cache.mkdir(parents=True, exist_ok=True)
    version = _output(
        _bwrap_ro(
            root, ["/usr/bin/python3", "-c", "import platform; print(platform.python_version())"]
        )
    )
    _run(
        [
            _python(),
            "-m",
            "pip",
            "download",
            "-qq",
            "--only-binary=:all:",
            "--python-version",
            version.strip(),
            "--dest",
            str(cache),
            *requirements,
        ]
    )
    return cache


def _bwrap_ro(root: Path, command: list[str]) -> list[str]:
    return ["bwrap", "--ro-bind", str(root), "/", "--proc", "/proc", "--dev", "/dev", *command]


def _python() -> str:
    """The host interpreter that downloads wheels (any 3.x: the version is given to pip)."""
    return shutil.which("python3") or sys.executable


def host_indexes() -> dict[str, str]:
    """The package index pip and the registry npm use on this machine, where configured."""
    found: dict[str, str] = {}
    for line in _output([_python(), "-m", "pip", "config", "list"]).splitlines():
        key, _, value = line.partition("=")
        if key.endswith(".index-url") and "pip" not in found:
            found["pip"] = value.strip().strip("'\"")
    if shutil.which("npm"):
        found["npm"] = _output(["npm", "config", "get", "registry"]).strip()
    return found


def _package_indexes(root: Path) -> None:
    """Sandboxes with network install from the same index and registry as this machine."""
    indexes = host_indexes()
    if "pip" in indexes:
        (root / "etc/pip.conf").write_text(f"[global]\nindex-url = {indexes['pip']}\n")
    if "npm" in indexes:
        (root / "etc/npmrc").write_text(f"registry={indexes['npm']}\n")


def _npm_globals(root: Path) -> None:
    """npm runs inside with the registry this machine's npm is configured with, if any. No
    package's install scripts run: they may download (agent-browser's fetches a binary)."""
    packages = recipe_lines("npm-globals.txt")
    registry = host_indexes().get("npm")
    option = f" --registry={registry}" if registry else ""
    inside(
        root,
        f"npm install -g --ignore-scripts --no-audit --no-fund --loglevel=error{option} "
        f"{' '.join(packages)}\nrm -rf /root/.npm\n" + _agent_browser_native(packages),
    )


def _agent_browser_native(packages: list[str]) -> str:
    """agent-browser's command is a JS shim that wants Node >= 24 (bookworm has 18) and runs the
    native binary the package carries for each platform (its install script, which does not
    run, would make it executable): the command becomes that binary, the other platforms' go
    (100 MB), and the binary must answer with the pinned version."""
    version = next(p for p in packages if p.startswith("agent-browser@")).partition("@")[2]
    package = "/usr/local/lib/node_modules/agent-browser"
    return f"""
case "$(dpkg --print-architecture)" in
    amd64) native=agent-browser-linux-x64 ;;
    arm64) native=agent-browser-linux-arm64 ;;
esac
chmod 755 {package}/bin/$native
find {package}/bin -name 'agent-browser-*' ! -name $native -delete
ln -sfn ../lib/node_modules/agent-browser/bin/$native /usr/local/bin/agent-browser
test "$(agent-browser --version)" = "agent-browser {version}"
"""


def _configure(root: Path) -> None:
    script = f"""
groupadd --gid {SANDBOX_UID} shipyard
useradd --uid {SANDBOX_UID} --gid {SANDBOX_UID} --home-dir /workspace --no-create-home \\
    --shell /bin/bash shipyard
mkdir -p /workspace /run/ship /{SHIP_PREFIX}
chown {SANDBOX_UID}:{SANDBOX_UID} /workspace /run/ship
# We own this environment: pip installs without --break-system-packages (into the user site,
# the system's being read-only).
rm -f /usr/lib/python3*/EXTERNALLY-MANAGED
printf '127.0.0.1 localhost sandbox\\n::1 localhost\\n' > /etc/hosts
echo sandbox > /etc/hostname
# matplotlib's font list, made once here rather than in every kernel.
MPLCONFIGDIR=/etc/matplotlib python3 -c \\
    'import matplotlib.font_manager as f; f.fontManager'
rm -rf /var/cache/debconf/*-old /var/log/apt /var/log/dpkg.log /root/.cache
"""
    for name in ("pip", "pip3", "pip3.11"):
        shutil.copy(RECIPE / "bin" / "pip", root / "usr/local/bin" / name)
    _package_indexes(root)
    inside(root, script)


# --- stage 2: Ship -------------------------------------------------------------------------------


def build_rootfs(env: Path, dest: Path) -> None:
    work = _fresh(dest.with_name(f".{dest.name}.build"))
    with Step("Ship's wheels"):
        wheels = _ship_wheels(env, work.with_name(f"{work.name}-wheels"))
    with Step("Ship's venv in /opt/ship"):
        _run(["cp", "-al", str(env), str(work)])
        inside(
            work,
            f"python3 -m venv --without-pip /{SHIP_PREFIX}\n"
            f"python3 -m pip --python /{SHIP_PREFIX}/bin/python install -q --no-index "
            f"--find-links /wheels --root-user-action=ignore -r /wheels/requirements.txt\n"
            f"mkdir /{SHIP_PREFIX}/kernel && cd /{SHIP_PREFIX}/kernel\n"
            "ln -s ../lib/python3.*/site-packages/ship ship\n"
            f"/{SHIP_PREFIX}/bin/python -m compileall -q /{SHIP_PREFIX}/lib\n",
            [(str(wheels), "/wheels")],
        )
        write_top(work)
    shutil.rmtree(wheels)
    work.rename(dest)


def write_top(root: Path) -> None:
    """The recipe's configuration files, on top of env (the same for the Docker image). Login
    shells (Ship runs `bash -l`) get sandbox.env's PATH back after /etc/profile resets it."""
    path = sandbox_env()["PATH"]
    files = {
        "etc/shipyard/sandbox.env": (RECIPE / "sandbox.env").read_text(),
        "etc/matplotlibrc": (RECIPE / "matplotlibrc").read_text(),
        "etc/profile.d/shipyard.sh": f"# From images/sandbox/sandbox.env\nexport PATH={path}\n",
    }
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)  # it may be a hard link into env, which must stay as it is
        target.write_text(text)
        target.chmod(0o644)


def _ship_wheels(env: Path, wheels: Path) -> Path:
    _fresh(wheels).mkdir()
    uv = _uv()
    for package in ("shipyard-protocol", "shipyard-ship"):
        _run([uv, "build", "--quiet", "--wheel", "--package", package, "--out-dir", str(wheels)])
    requirements = ship_requirements() + "shipyard-protocol\nshipyard-ship\n"
    (wheels / "requirements.txt").write_text(requirements)
    cache = download_wheels(
        env, ["-r", str(wheels / "requirements.txt"), "--find-links", str(wheels)]
    )
    for wheel in cache.glob("*.whl"):
        if wheel.name.startswith("shipyard_"):  # ours keep one version across edits
            wheel.unlink()
        elif not (wheels / wheel.name).exists():
            os.link(wheel, wheels / wheel.name)
    return wheels


# --- the Docker image -----------------------------------------------------------------------------
# Two layers: the environment imported as it is (`shipyard/sandbox-env:<hash>`, once per recipe),
# then what the Ship layer of the root filesystem adds: Ship's venv and sandbox.env, the latter
# also as the image's ENV (written into the Dockerfile where it says ENV_FROM_SANDBOX_ENV). The
# image is labelled with the root filesystem's name and rebuilt only when that changes.

DOCKERFILE = RECIPE / "Dockerfile"
IMAGE_LABEL = "shipyard.inputs"


def build_image(image: str, env: Path, rootfs: Path) -> None:
    if _label(image) == rootfs.name:
        say(f"{image} is current ({rootfs.name})")
        return
    base = f"shipyard/sandbox-env:{env.name.removeprefix('env-')}"
    if not _exists(base):
        with Step(f"importing the environment as {base}"):
            _import(env, base)
        _remove_other_envs(keep=base)
    with Step(f"building {image}"), tempfile.TemporaryDirectory() as context:
        subprocess.run(["cp", "-al", str(rootfs / "opt" / "ship"), f"{context}/ship"], check=True)
        write_top(Path(context) / "top")
        (Path(context) / "Dockerfile").write_text(dockerfile(sandbox_env()))
        argv = ["docker", "build", "--quiet", "-t", image]
        argv += ["--build-arg", f"BASE={base}", "--build-arg", f"INPUTS={rootfs.name}", context]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BuildError(f"docker build failed: {done.stderr.strip()[-2000:]}")
    subprocess.run(
        [
            "docker",
            "image",
            "prune",
            "--force",
            "--filter",
            "label=org.opencontainers.image.title=shipyard/ship",
        ],
        capture_output=True,
        check=False,
    )


def _label(image: str) -> str:
    done = subprocess.run(
        [
            "docker",
            "image",
            "inspect",
            "--format",
            f'{{{{ index .Config.Labels "{IMAGE_LABEL}" }}}}',
            image,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else ""


def _exists(image: str) -> bool:
    return (
        subprocess.run(
            ["docker", "image", "inspect", image], capture_output=True, check=False
        ).returncode
        == 0
    )


def _remove_other_envs(keep: str) -> None:
    """Older imports of the environment (2 GB each); one still in use stays (rmi refuses)."""
    listed = subprocess.run(
        ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}", "shipyard/sandbox-env"],
        capture_output=True,
        text=True,
        check=False,
    )
    for image in listed.stdout.split():
        if image != keep:
            subprocess.run(["docker", "rmi", image], capture_output=True, check=False)


def dockerfile(env: dict[str, str]) -> str:
    lines = "".join(f"ENV {name}={json.dumps(value)}\n" for name, value in env.items())
    text = DOCKERFILE.read_text()
    if "\nENV_FROM_SANDBOX_ENV\n" not in text:
        raise BuildError(f"{DOCKERFILE} lacks the line ENV_FROM_SANDBOX_ENV")
    return text.replace("\nENV_FROM_SANDBOX_ENV\n", "\n" + lines)


def _import(env: Path, tag: str) -> None:
    changes = ["USER 1000:1000", "WORKDIR /workspace", 'CMD ["/bin/bash"]']
    argv = [
        "docker",
        "import",
        *[arg for change in changes for arg in ("--change", change)],
        "-",
        tag,
    ]
    tar = subprocess.Popen(
        ["tar", "-C", str(env), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE
    )
    done = subprocess.run(argv, stdin=tar.stdout, capture_output=True, text=True, check=False)
    tar.wait()
    if done.returncode != 0 or tar.returncode != 0:
        raise BuildError(f"docker import failed: {done.stderr.strip()[-2000:]}")


# --- commands ----------------------------------------------------------------------------------


def ensure_rootfs() -> Path:
    STORE.mkdir(parents=True, exist_ok=True)
    with (STORE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time on this machine
        return _ensure_rootfs()


def _ensure_rootfs() -> Path:
    env = STORE / f"env-{env_hash()}"
    _remove_stale_builds(keep=env)
    if not env.is_dir():
        say(f"building the sandbox environment {env} (first time: several minutes)")
        build_env(env)
    rootfs = STORE / f"rootfs-{ship_hash(env.name)}"
    if not rootfs.is_dir():
        build_rootfs(env, rootfs)
    _link(LINKS / "env", env)
    _link(LINKS / "rootfs", rootfs)
    _register_checkout()
    _prune(keep={env, rootfs})
    say(f"current: {rootfs}")
    return rootfs


def _remove_stale_builds(keep: Path) -> None:
    """Half-made builds of other inputs (the lock says none is running) only take space."""
    for path in [*STORE.glob(".env-*"), *STORE.glob(".rootfs-*")]:
        if not path.name.startswith(f".{keep.name}."):
            shutil.rmtree(path)


def _prune(keep: set[Path], spare: int = 1) -> None:
    """Remove older builds (2 GB each), but the `spare` newest of each kind, those another
    checkout on this machine links to, and any a running sandbox has as its root: deleting
    files under a sandbox would pull them from it."""
    in_use = _mounted_builds() | _linked_builds()
    for kind in ("env-", "rootfs-"):
        builds = [p for p in STORE.glob(f"{kind}*") if p.is_dir()]
        builds.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        for build in [b for b in builds if b not in keep][spare:]:
            if build.name not in in_use:
                say(f"removing the old build {build.name}")
                shutil.rmtree(build)
                build.with_name(f"{build.name}.build.json").unlink(missing_ok=True)


def _register_checkout() -> None:
    """Note this checkout's links in the store, for other checkouts' prunes to respect."""
    CHECKOUTS.mkdir(exist_ok=True)
    (CHECKOUTS / hashlib.sha256(bytes(LINKS)).hexdigest()[:16]).write_text(str(LINKS))


def _linked_builds() -> set[str]:
    """Names of the builds the checkouts noted in the store link to; gone checkouts drop out."""
    names: set[str] = set()
    for entry in CHECKOUTS.glob("*") if CHECKOUTS.is_dir() else []:
        links = [Path(entry.read_text()) / name for name in ("env", "rootfs")]
        targets = [link.resolve() for link in links if link.is_symlink()]
        if not targets:
            entry.unlink()
        names.update(target.name for target in targets)
    return names


def _mounted_builds() -> set[str]:
    """Names of the builds some process on this host sees as a mount (its root, mostly)."""
    names: set[str] = set()
    for mountinfo in Path("/proc").glob("[0-9]*/mountinfo"):
        try:
            text = mountinfo.read_text()
        except OSError:
            continue  # the process ended
        names.update(re.findall(rf"{re.escape(str(STORE))}/((?:env|rootfs)-[0-9a-f]+)", text))
    return names


def _link(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    fresh = link.with_name(f".{link.name}.new")
    fresh.unlink(missing_ok=True)
    fresh.symlink_to(target)
    fresh.replace(link)


def missing_tools() -> list[str]:
    needs = {"debootstrap": "debootstrap", "bwrap": "bubblewrap", "cp": "coreutils"}
    return [package for tool, package in needs.items() if shutil.which(tool) is None]


def cannot_build() -> str | None:
    if os.geteuid() != 0:
        return "building it needs root (debootstrap, files owned by root)"
    if (missing := missing_tools()) and shutil.which("apt-get"):
        say(f"installing {' '.join(missing)} with apt-get")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", *missing],
            env=env,
            check=False,
            stdout=subprocess.DEVNULL,
        )
    if missing := missing_tools():
        return f"building it needs {', '.join(missing)} (apt-get install {' '.join(missing)})"
    return None


def rootfs_command() -> int:
    reason = cannot_build()
    if reason is not None:
        say(
            f"WARNING: no sandbox environment: {reason}; sandboxes of the local driver will run "
            "over the host's /usr"
        )
        return 0
    ensure_rootfs()
    return 0


def image_command() -> int:
    reason = cannot_build()
    if reason is not None:
        raise BuildError(f"cannot build the image: {reason}")
    rootfs = ensure_rootfs()
    build_image(IMAGE, Path(os.readlink(LINKS / "env")), rootfs)
    return 0


def main(argv: list[str]) -> int:
    commands = {"rootfs": rootfs_command, "image": image_command}
    if len(argv) != 2 or argv[1] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        return commands[argv[1]]()
    except BuildError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
