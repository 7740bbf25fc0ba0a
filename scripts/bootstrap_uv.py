"""Fetch the uv binary from the package index with nothing but the standard library.

A bare Debian machine has python3 but often neither pip nor venv; uv's wheel carries a static
binary, so unpacking it is all the installation uv needs. The index is this machine's own:
UV_BOOTSTRAP_INDEX, else the index-url pip is configured with, else pip's default (read from
pip itself); with neither a setting nor pip, it says what to do.
"""

import io
import json
import os
import platform
import re
import subprocess
import sys
import urllib.parse
import urllib.request
import zipfile

ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}
# PEP 691: the simple index as JSON, where the index offers it; HTML links otherwise.
ACCEPT = "application/vnd.pypi.simple.v1+json, text/html;q=0.1"


def index_url() -> str:
    if os.environ.get("UV_BOOTSTRAP_INDEX"):
        return os.environ["UV_BOOTSTRAP_INDEX"]
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True
    )
    for line in listed.stdout.splitlines():
        key, _, value = line.partition("=")
        if key.endswith(".index-url"):
            return value.strip().strip("'\"")
    try:
        from pip._internal.models.index import PyPI  # type: ignore[import-not-found]
    except ImportError:
        raise SystemExit(
            "bootstrap: no package index is configured and pip is not installed: "
            "apt-get install python3-pip, or set UV_BOOTSTRAP_INDEX to a simple index URL"
        ) from None
    return str(PyPI.simple_url)


def wheel_url(index: str) -> str:
    """The newest uv wheel for this machine in the index's page for uv."""
    page = urllib.parse.urljoin(index.rstrip("/") + "/", "uv/")
    request = urllib.request.Request(page, headers={"Accept": ACCEPT})
    with urllib.request.urlopen(request, timeout=60) as response:
        body = response.read().decode()
        if "json" in response.headers.get("Content-Type", ""):
            links = [(f["filename"], f["url"]) for f in json.loads(body)["files"]]
        else:
            links = [
                (url.rsplit("/", 1)[-1].split("#")[0], url)
                for url in re.findall(r'href="([^"]+)"', body)
            ]
    arch = ARCH[platform.machine().lower()]
    wheels = [
        (name, url)
        for name, url in links
        if name.endswith(".whl") and "manylinux" in name and arch in name
    ]
    if not wheels:
        raise SystemExit(f"bootstrap: no uv wheel for {arch} at {page}")
    _, url = max(wheels, key=lambda wheel: _version(wheel[0]))
    return str(urllib.parse.urljoin(page, url))


def _version(filename: str) -> tuple[int, ...]:
    """uv-0.13.9-py3-none-... -> (0, 13, 9); pre-releases sort first."""
    version = filename.split("-")[1]
    if not re.fullmatch(r"[0-9.]+", version):
        return (-1,)
    return tuple(int(part) for part in version.split("."))


def main(target: str) -> None:
    url = wheel_url(index_url())
    print(f"bootstrap: downloading {url.rsplit('/', 1)[-1].split('#')[0]}", file=sys.stderr)
    with urllib.request.urlopen(url, timeout=300) as response:
        wheel = zipfile.ZipFile(io.BytesIO(response.read()))
    member = next(n for n in wheel.namelist() if n.endswith("/scripts/uv"))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target + ".part", "wb") as out:
        out.write(wheel.read(member))
    os.chmod(target + ".part", 0o755)
    os.replace(target + ".part", target)


if __name__ == "__main__":
    main(sys.argv[1])
