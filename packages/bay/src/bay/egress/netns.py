"""Entering network namespaces, and walling a sandbox's in so that every connection out
reaches its proxy: the only routes out lead to loopback, where nftables redirects them."""

import ctypes
import ipaddress
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

from bay.egress.policy import Address

CLONE_NEWNET = 0x40000000
PROXY_PORT = 15001
DNS_PORT = 15053
SANDBOX_ADDRESS = "10.0.2.15"  # what the sandbox sees as its own address
_libc = ctypes.CDLL(None, use_errno=True)

# Redirect every TCP connection out and every DNS question to the proxy; drop all else that
# leaves loopback, except the answers to connections made to the sandbox (Bay's, on Docker's
# TCP channel). Nothing in the sandbox has CAP_NET_ADMIN over this namespace to undo it.
# Before Docker's own NAT (priority -100), which sends DNS to its embedded resolver.
RULES = f"""
table inet shipyard {{
  chain to_proxy {{
    type nat hook output priority -150; policy accept;
    udp dport 53 redirect to :{DNS_PORT}
    ip daddr != 127.0.0.0/8 meta l4proto tcp redirect to :{PROXY_PORT}
  }}
  chain only_loopback {{
    type filter hook output priority 0; policy drop;
    ip daddr 127.0.0.0/8 accept
    ip6 daddr ::1 accept
    ct state established,related accept
  }}
}}
"""


def setns(fd: int) -> None:
    """Move this thread into the network namespace `fd` (Python 3.11 has no os.setns)."""
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


@contextmanager
def entered(fd: int) -> Iterator[None]:
    """Inside the namespace `fd` for the block; sockets made there stay there."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        setns(fd)
        try:
            yield
        finally:
            setns(home)
    finally:
        os.close(home)


def wall() -> None:
    """Run in the sandbox's namespace: an address, a route that ends on loopback, the rules."""
    _run(["ip", "link", "set", "lo", "up"])
    _run(["ip", "addr", "replace", f"{SANDBOX_ADDRESS}/32", "dev", "lo"])
    _run(["ip", "route", "replace", "default", "dev", "lo", "src", SANDBOX_ADDRESS])
    _run(["nft", "-f", "-"], RULES)


OFFLINE_RULES = """
table inet shipyard {
  chain only_loopback {
    type filter hook output priority 0; policy drop;
    meta l4proto { tcp, udp } ct original proto-dst 53 reject
    ip daddr 127.0.0.0/8 accept
    ip6 daddr ::1 accept
    ct state established,related accept
  }
}
"""


def wall_offline() -> None:
    """Run in the namespace of a sandbox without network that still has an interface (Docker's
    TCP channel): no default route, and nothing leaves but answers to Bay's connections."""
    _run(["ip", "route", "flush", "exact", "0.0.0.0/0"])
    _run(["ip", "-6", "route", "flush", "exact", "::/0"])
    _run(["nft", "-f", "-"], OFFLINE_RULES)


def own_addresses() -> frozenset[Address]:
    """Every address of this namespace's interfaces: the host, as far as a sandbox is told."""
    listed = json.loads(_run(["ip", "-j", "addr", "show"]) or "[]")
    found = set()
    for link in listed:
        for info in link.get("addr_info", []):
            found.add(ipaddress.ip_address(info["local"]))
    return frozenset(found)


def tool(name: str) -> str:
    """The path of `ip`, `nft` or `nsenter`; a service manager's PATH may leave out the sbin
    directories they live in."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/bin"])
    found = shutil.which(name, path=path)
    if found is None:
        raise OSError(f"{name} is not installed (Debian: apt-get install iproute2 nftables)")
    return found


def _run(argv: list[str], stdin: str | None = None) -> str:
    done = subprocess.run(  # noqa: S603 - our own argv, no shell
        [tool(argv[0]), *argv[1:]], input=stdin, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise OSError(f"{' '.join(argv)}: {done.stderr.strip() or done.returncode}")
    return done.stdout
