#!/usr/bin/env python3
"""Build the images deploy/compose.yaml runs, offline, each only when its inputs changed.

    deploy_images.py          shipyard/bay, shipyard/postgres and shipyard/bay-proxy

Each image is built FROM the sandbox environment's Debian base (`shipyard/sandbox-env:<hash>`,
which `sandbox_env.py image` imports along with building shipyard/ship:latest, the image the
docker driver runs), so nothing comes from a public registry and a host running the docker
driver already holds every layer but the images' own. Debian packages come from the mirrors the
base's apt is configured with (this machine's); Bay's wheels and its dependencies' are built and
fetched on the host with its own uv and pip configuration, then installed with --no-index.

Each image is labelled with a hash of its inputs (the base, its directory under deploy/images,
and for Bay its packages' sources and locked requirements) and left alone while that holds.
Environment: as sandbox_env.py's (SHIPYARD_SANDBOX_STORE, SHIP_IMAGE, UV).
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
IMAGES = REPO / "deploy" / "images"
ENV_LINK = REPO / ".tools" / "sandbox" / "env"
LABEL = "shipyard.inputs"
# Image name -> its directory under deploy/images.
TARGETS = {
    "shipyard/bay:latest": "bay",
    "shipyard/postgres:latest": "postgres",
    "shipyard/bay-proxy:latest": "proxy",
}
BAY_PACKAGES = ("shipyard-protocol", "shipyard-bay")
BAY_SOURCES = (REPO / "packages" / "protocol", REPO / "packages" / "bay")


def say(message: str) -> None:
    print(f"deploy: {message}", flush=True)


class BuildError(Exception):
    pass


def _output(argv: list[str]) -> str:
    done = subprocess.run(argv, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise BuildError(f"{argv[0]} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


def _uv() -> str:
    return os.environ.get("UV") or shutil.which("uv") or str(REPO / ".tools" / "bin" / "uv")


def ensure_base() -> str:
    """Build (or find current) the sandbox environment and the Ship image; name the base."""
    script = REPO / "scripts" / "sandbox_env.py"
    if subprocess.run([sys.executable, str(script), "image"], check=False).returncode != 0:
        raise BuildError("the sandbox environment's image could not be built (above)")
    return "shipyard/sandbox-env:" + ENV_LINK.resolve().name.removeprefix("env-")


def bay_dependencies() -> str:
    """Bay's locked dependencies (requirements.txt lines), without the workspace's packages."""
    return _output(
        [
            _uv(),
            *("export", "--package", "shipyard-bay", "--no-dev", "--no-hashes", "--frozen"),
            *("--no-emit-workspace", "--format", "requirements-txt", "--quiet"),
        ]
    )


def _files(*roots: Path) -> list[Path]:
    found = []
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                found.append(path)
    return sorted(found)


def inputs_hash(base: str, directory: Path, extra: str = "", sources: tuple[Path, ...] = ()) -> str:
    def parts() -> Iterator[bytes]:
        yield base.encode()
        yield extra.encode()
        for path in _files(directory, *sources):
            yield str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes()

    digest = hashlib.sha256()
    for part in parts():
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()[:16]


def _label(image: str) -> str:
    template = f'{{{{ index .Config.Labels "{LABEL}" }}}}'
    done = subprocess.run(
        ["docker", "image", "inspect", "--format", template, image],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else ""


def bay_wheels(into: Path, dependencies: str) -> None:
    """Bay's and the protocol's wheels built here, their dependencies' fetched for the base's
    Python (Debian bookworm's 3.11) with this machine's pip configuration."""
    into.mkdir()
    for package in BAY_PACKAGES:
        _output(
            [_uv(), "build", "--quiet", "--wheel", "--package", package, "--out-dir", str(into)]
        )
    (into / "requirements.txt").write_text(dependencies + "\n".join(BAY_PACKAGES) + "\n")
    deps = into.with_name("dependencies.txt")
    deps.write_text(dependencies)
    argv = [sys.executable, "-m", "pip", "download", "-qq", "--only-binary=:all:", "--no-deps"]
    argv += ["--python-version", "3.11", "--dest", str(into), "-r", str(deps)]
    _output(argv)


def build(image: str, base: str) -> None:
    directory = IMAGES / TARGETS[image]
    is_bay = TARGETS[image] == "bay"
    dependencies = bay_dependencies() if is_bay else ""
    inputs = inputs_hash(base, directory, dependencies, BAY_SOURCES if is_bay else ())
    if _label(image) == inputs:
        say(f"{image} is current ({inputs})")
        return
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        context = Path(scratch) / "context"
        shutil.copytree(directory, context)
        if is_bay:
            bay_wheels(context / "wheels", dependencies)
        argv = ["docker", "build", "--quiet", "-t", image, "--build-arg", f"BASE={base}"]
        done = subprocess.run(
            [*argv, "--build-arg", f"INPUTS={inputs}", str(context)],
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise BuildError(f"docker build of {image} failed: {done.stderr.strip()[-3000:]}")
    say(f"built {image} ({inputs}) in {time.monotonic() - started:.0f} s")
    # The image this one replaced, now untagged.
    title = f"label=org.opencontainers.image.title={image.rpartition(':')[0]}"
    subprocess.run(
        ["docker", "image", "prune", "--force", "--filter", title], capture_output=True, check=False
    )


def main() -> int:
    try:
        base = ensure_base()
        for image in TARGETS:
            build(image, base)
    except BuildError as exc:
        print(f"deploy: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
