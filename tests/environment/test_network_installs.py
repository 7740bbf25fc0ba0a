"""Installs from the package index in a sandbox whose allow list names only that index, on
the drivers that run the sandbox environment. The index's hosts are read from this machine's
pip at test time (no host name is written here); nothing else is reachable."""

import json
from urllib.parse import urlsplit

import pytest

from bay.drivers.base import Driver
from bay.egress.launch import Egress
from shipyard_protocol.api import NetworkPolicy
from tests.engines import new_cargo, new_spec, py, sh
from tests.environment.conftest import LIMITS

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(600)]


# Run in the sandbox: the hosts of the indexes its pip is configured with (the environment
# carries this machine's pip settings), and pip's own default when none is set.
INDEX_HOSTS = """
import subprocess, sys
from urllib.parse import urlsplit
from pip._internal.models.index import PyPI
listed = subprocess.run([sys.executable, "-m", "pip", "config", "list"],
                        capture_output=True, text=True).stdout.splitlines()
keys = [line.split("=", 1) for line in listed if "=" in line]
urls = [u for key, value in keys if key.endswith("index-url") for u in value.strip("'\\"").split()]
hosts = {urlsplit(u).hostname for u in urls if urlsplit(u).scheme in ("http", "https")}
if not any(key.endswith(".index-url") for key, _ in keys):
    hosts |= {PyPI.netloc, PyPI.file_storage_domain}
print(" ".join(sorted(h for h in hosts if h)))
"""


async def index_hosts(driver: Driver, variant: str, cargo: str) -> list[str]:
    instance = await driver.start(new_spec(variant, cargo, LIMITS))
    try:
        found = await py(instance, INDEX_HOSTS)
    finally:
        await driver.stop(instance.ref)
    hosts: list[str] = found["text"].split()
    assert hosts, found
    return hosts


async def test_pip_install_from_the_index_imports_at_once_and_stays(
    variant: str, driver: Driver
) -> None:
    """From the index this machine's pip is configured with (the environment carries its
    setting and CAs); the package is not in the environment. Then a new session on the cargo
    (what stop/start and a second sandbox on it are) still imports it, offline."""
    cargo = await new_cargo(driver)
    hosts = await index_hosts(driver, variant, cargo)
    policy = NetworkPolicy(egress="allow", allow=hosts)
    instance = await driver.start(new_spec(variant, cargo, LIMITS, egress=Egress(policy)))
    try:
        assert (await py(instance, "import json"))["success"]  # the kernel runs before
        absent = await sh(instance, "python3 -c 'import tomli_w'")
        assert absent["exit_code"] != 0
        installed = await sh(instance, "pip install tomli-w", timeout=300)
        assert installed["exit_code"] == 0, installed
        result = await py(instance, "import tomli_w; print(tomli_w.dumps({'a': 1}))")
        assert result["text"].strip() == "a = 1", result
        elsewhere = await sh(instance, "curl -sS --max-time 10 http://203.0.113.10/")
        assert elsewhere["exit_code"] != 0 or "blocked by" in elsewhere["stdout"], elsewhere
        counted = driver.traffic(instance.ref)
        assert counted is not None, json.dumps(hosts)
    finally:
        await driver.stop(instance.ref)
    offline = await driver.start(new_spec(variant, cargo, LIMITS))
    try:
        result = await py(offline, "import tomli_w; print(tomli_w.dumps({'b': 2}))")
        assert result["text"].strip() == "b = 2", result
    finally:
        await driver.stop(offline.ref)


async def test_npm_and_pnpm_global_installs_stay_on_the_cargo(variant: str, driver: Driver) -> None:
    """`npm install -g` and `pnpm add -g` from the registry the sandbox's npm is configured
    with (read in the sandbox, no host named here), allowed by name; their commands run, and
    still do in a new session on the same cargo."""
    cargo = await new_cargo(driver)
    probe = await driver.start(new_spec(variant, cargo, LIMITS))
    try:
        registry = (await sh(probe, "npm config get registry"))["stdout"].strip()
    finally:
        await driver.stop(probe.ref)
    host = urlsplit(registry).hostname
    assert host, registry
    policy = NetworkPolicy(egress="allow", allow=[host])
    instance = await driver.start(new_spec(variant, cargo, LIMITS, egress=Egress(policy)))
    try:
        npm = await sh(instance, "npm install -g semver@7.6.3", timeout=300)
        assert npm["exit_code"] == 0, npm
        pnpm = await sh(instance, "pnpm add -g is-number@7.0.0", timeout=300)
        assert pnpm["exit_code"] == 0, pnpm
    finally:
        await driver.stop(instance.ref)
    offline = await driver.start(new_spec(variant, cargo, LIMITS))
    try:
        version = await sh(offline, "semver --help | head -1")
        assert version["stdout"].startswith("SemVer 7.6.3"), version
        listed = await sh(offline, "pnpm list -g --depth 0")
        assert "is-number@7.0.0" in listed["stdout"], listed
    finally:
        await driver.stop(offline.ref)
