"""A network lab no packet leaves: two namespaces this test makes and deletes.

`host` stands in for Bay's machine as sandbox egress sees it (Bay runs each proxy there,
`network.namespace`): loopback, its own address 192.0.2.1, and a default route to `world`.
`world` holds every other address: 203.0.113.10 and .20 stand for the public internet,
10.99.0.10 for a private host, 169.254.169.254 for cloud metadata, 198.51.100.53 is the DNS
server the host's resolv.conf names. Both run `lab_servers.py`.
"""

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PUBLIC, OTHER_PUBLIC = "203.0.113.10", "203.0.113.20"
PRIVATE, METADATA, DNS = "10.99.0.10", "169.254.169.254", "198.51.100.53"
HOST_ADDRESS, WORLD_ADDRESS = "192.0.2.1", "192.0.2.2"
_SERVERS = Path(__file__).with_name("lab_servers.py")


@dataclass(frozen=True)
class Lab:
    host: str  # the namespace name Bay's `network.namespace` takes
    world: str


def available() -> str | None:
    """Why the lab cannot be built here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    missing = [tool for tool in ("ip", "nft", "openssl") if shutil.which(tool) is None]
    return f"missing {', '.join(missing)}" if missing else None


@contextlib.contextmanager
def lab(tmp: Path) -> Iterator[Lab]:
    tag = secrets.token_hex(3)
    built = Lab(host=f"sy-host-{tag}", world=f"sy-world-{tag}")
    etc = Path("/etc/netns") / built.host
    servers: list[subprocess.Popen[bytes]] = []
    try:
        for name in (built.host, built.world):
            _ip("netns", "add", name)
        _wire(built)
        etc.mkdir(parents=True)
        (etc / "resolv.conf").write_text(f"nameserver {DNS}\noptions timeout:2 attempts:1\n")
        (etc / "hosts").write_text("127.0.0.1 localhost\n")
        cert, key = _certificate(tmp)
        servers.append(_serve(built.world, "world", DNS, str(cert), str(key)))
        servers.append(_serve(built.host, "host", "127.0.0.1", HOST_ADDRESS))
        yield built
    finally:
        for server in servers:
            server.kill()
            server.wait()
            if server.stdout is not None:
                server.stdout.close()
        shutil.rmtree(etc, ignore_errors=True)
        for name in (built.host, built.world):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def _wire(built: Lab) -> None:
    host, world = built.host, built.world
    _ip("-n", host, "link", "add", "ve0", "type", "veth", "peer", "name", "ve1", "netns", world)
    for name in (host, world):
        _ip("-n", name, "link", "set", "lo", "up")
    _ip("-n", host, "addr", "add", f"{HOST_ADDRESS}/24", "dev", "ve0")
    _ip("-n", host, "link", "set", "ve0", "up")
    _ip("-n", host, "route", "add", "default", "via", WORLD_ADDRESS)
    _ip("-n", world, "addr", "add", f"{WORLD_ADDRESS}/24", "dev", "ve1")
    for address in (PUBLIC, OTHER_PUBLIC, PRIVATE, METADATA, DNS):
        _ip("-n", world, "addr", "add", f"{address}/32", "dev", "ve1")
    _ip("-n", world, "link", "set", "ve1", "up")


def _serve(namespace: str, *args: str) -> subprocess.Popen[bytes]:
    argv = ["ip", "netns", "exec", namespace, sys.executable, str(_SERVERS), *args]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE)
    assert process.stdout is not None
    if process.stdout.readline().strip() != b"serving":
        process.kill()
        raise RuntimeError(f"lab servers in {namespace} did not start")
    return process


def _certificate(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "lab.crt", tmp / "lab.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=allowed.test", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)
