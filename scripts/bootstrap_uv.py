"""Fetch the uv binary from PyPI with nothing but the standard library.

A bare Debian machine has python3 but often neither pip nor venv; uv's wheel
carries a static binary, so unpacking it is all the installation uv needs.
"""

import io
import json
import os
import platform
import sys
import urllib.parse
import urllib.request
import zipfile

INDEX = os.environ.get("UV_BOOTSTRAP_INDEX", "https://pypi.org/pypi/uv/json")
ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


def wheel_url() -> str:
    with urllib.request.urlopen(INDEX, timeout=60) as response:
        release = json.load(response)
    arch = ARCH[platform.machine().lower()]
    for item in release["urls"]:
        name = item["filename"]
        if name.endswith(".whl") and "manylinux" in name and arch in name:
            return str(urllib.parse.urljoin(INDEX, item["url"]))
    raise SystemExit(f"no uv wheel for {arch} in {INDEX}")


def main(target: str) -> None:
    url = wheel_url()
    print(f"bootstrap: downloading {url.rsplit('/', 1)[-1]}", file=sys.stderr)
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
