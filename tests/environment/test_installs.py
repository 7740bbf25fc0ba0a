"""Installs land in the cargo: what pip and npm install shows in the running kernel at once,
and is still there for the next session on the same cargo (after a stop, in a new sandbox)."""

import base64
import io
import zipfile

import pytest

from bay.drivers.base import Driver, Instance
from tests.engines import new_cargo, py, sh
from tests.environment.conftest import start

WHEEL = "shipyard_demo-1.0-py3-none-any.whl"
NPM_PACKAGE = (
    """{"name": "shipyard-demo-cli", "version": "1.0.0", "bin": {"shipyard-demo": "cli.js"}}"""
)

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(600)]


def demo_wheel() -> bytes:
    """A minimal pure-Python wheel, made here: no index needed to install it."""
    info = "shipyard_demo-1.0.dist-info"
    files = {
        "shipyard_demo/__init__.py": "VALUE = 'installed'\n",
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: shipyard-demo\nVersion: 1.0\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{name},,\n" for name in [*files, f"{info}/RECORD"])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as wheel:
        for name, text in {**files, f"{info}/RECORD": record}.items():
            wheel.writestr(name, text)
    return buffer.getvalue()


async def put(instance: Instance, path: str, data: bytes) -> None:
    encoded = base64.b64encode(data).decode()
    result = await sh(instance, f"echo {encoded} | base64 -d > {path}")
    assert result["exit_code"] == 0, result


async def test_pip_install_imports_at_once_and_outlives_the_session(
    variant: str, driver: Driver
) -> None:
    cargo = await new_cargo(driver)
    first = await start(variant, driver, cargo)
    try:
        assert (await py(first, "import json"))["success"]  # the kernel runs before the install
        await put(first, WHEEL, demo_wheel())
        installed = await sh(first, f"pip install ./{WHEEL}", timeout=120)
        assert installed["exit_code"] == 0, installed
        assert "/workspace/.local" in (await sh(first, "pip show -f shipyard-demo"))["stdout"]
        result = await py(first, "import shipyard_demo; print(shipyard_demo.VALUE)")
        assert result["text"].strip() == "installed", result
    finally:
        await driver.stop(first.ref)

    second = await start(variant, driver, cargo)
    try:
        result = await py(second, "import shipyard_demo; print(shipyard_demo.VALUE)")
        assert result["text"].strip() == "installed", result
        shell = await sh(second, "python3 -c 'import shipyard_demo; print(shipyard_demo.VALUE)'")
        assert shell["stdout"].strip() == "installed", shell
    finally:
        await driver.stop(second.ref)


async def test_npm_and_pnpm_global_installs_outlive_the_session(
    variant: str, driver: Driver
) -> None:
    cargo = await new_cargo(driver)
    first = await start(variant, driver, cargo)
    try:
        make = (
            "mkdir -p demo && cd demo && "
            f"echo '{NPM_PACKAGE}' > package.json && "
            "printf '#!/usr/bin/env node\\nconsole.log(\"demo ran\")\\n' > cli.js && "
            "npm pack --silent"
        )
        packed = await sh(first, make, timeout=120)
        assert packed["exit_code"] == 0, packed
        tarball = f"/workspace/demo/{packed['stdout'].split()[-1]}"
        npm = await sh(first, f"npm install -g --offline {tarball}", timeout=180)
        assert npm["exit_code"] == 0, npm
        pnpm = await sh(first, f"pnpm add -g --offline {tarball}", timeout=180)
        assert pnpm["exit_code"] == 0, pnpm
    finally:
        await driver.stop(first.ref)

    second = await start(variant, driver, cargo)
    try:
        ran = await sh(second, "shipyard-demo && command -v shipyard-demo && pnpm ls -g")
        assert ran["exit_code"] == 0, ran
        assert ran["stdout"].startswith("demo ran\n/workspace/"), ran
        assert "shipyard-demo-cli" in ran["stdout"]
    finally:
        await driver.stop(second.ref)


async def test_pip_without_network_says_so(sandbox: Instance) -> None:
    result = await sh(sandbox, "pip install shipyard-no-such-package", timeout=120)
    assert result["exit_code"] != 0
    assert "no network" in result["stderr"], result
    assert "Retrying" not in result["stderr"]
