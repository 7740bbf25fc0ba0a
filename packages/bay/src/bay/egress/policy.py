"""What a sandbox may connect to: its policy, and the ranges no policy can open."""

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from shipyard_protocol.api import NetworkPolicy

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Whatever the policy: the host and its loopback, private and link-local ranges (the cloud
# metadata address among them), CGNAT, multicast, and what is not routable at all.
ALWAYS_DENIED: tuple[Network, ...] = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "64:ff9b:1::/48",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
    )
)


def denied_always(address: Address, host_addresses: Iterable[Address] = ()) -> bool:
    """True for an address no sandbox may reach; IPv4 mapped or translated into IPv6 is
    judged as the IPv4 address it carries."""
    address = _unwrapped(address)
    if address in set(host_addresses):
        return True
    return any(address.version == net.version and address in net for net in ALWAYS_DENIED)


def _unwrapped(address: Address) -> Address:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in ipaddress.ip_network("64:ff9b::/96"):
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


@dataclass(frozen=True)
class Rules:
    """A policy's lists, parsed: domain patterns (`*.` wildcards) and networks."""

    domains: tuple[str, ...] = ()
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, entries: Sequence[str]) -> "Rules":
        domains, networks = [], []
        for entry in entries:
            network = as_network(entry)
            if network is None:
                domains.append(entry.lower().rstrip("."))
            else:
                networks.append(network)
        return cls(tuple(domains), tuple(networks))

    def names(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return any(domain_matches(pattern, host) for pattern in self.domains)

    def holds(self, address: Address) -> bool:
        address = _unwrapped(address)
        return any(address.version == net.version and address in net for net in self.networks)


@dataclass(frozen=True)
class Policy:
    """A sandbox's effective policy, as the proxy applies it."""

    egress: str
    allow: Rules = field(default_factory=Rules)
    deny: Rules = field(default_factory=Rules)

    @classmethod
    def of(cls, policy: NetworkPolicy) -> "Policy":
        return cls(policy.egress, Rules.parse(policy.allow), Rules.parse(policy.deny))

    def address_allowed(self, address: Address) -> bool:
        """A connection to `address` whose name is unknown (raw IP, or not HTTP/TLS)."""
        if self.deny.holds(address):
            return False
        return self.egress == "internet" or (self.egress == "allow" and self.allow.holds(address))

    def name_allowed(self, host: str) -> bool:
        """A connection naming `host` (TLS SNI, HTTP Host, a DNS question)."""
        if as_network(host) is not None or self.deny.names(host):
            return False
        return self.egress == "internet" or (self.egress == "allow" and self.allow.names(host))

    @property
    def needs_names(self) -> bool:
        """Whether a connection's name can change the verdict, so it is worth reading."""
        return bool(self.allow.domains or self.deny.domains)


def domain_matches(pattern: str, host: str) -> bool:
    """`example.com` matches itself; `*.example.com` matches any name below it, not itself."""
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern


def as_network(entry: str) -> Network | None:
    try:
        return ipaddress.ip_network(entry.strip("[]"), strict=False)
    except ValueError:
        return None


class WiderThanProfile(ValueError):
    """A create asked for more network than its profile allows."""


def narrowed(profile: NetworkPolicy, asked: NetworkPolicy) -> NetworkPolicy:
    """`asked` within `profile`: never wider, and the profile's deny list always kept."""
    deny = sorted({*profile.deny, *asked.deny})
    if asked.egress == "none":
        return NetworkPolicy(egress="none")
    if profile.egress == "none":
        raise WiderThanProfile("the profile allows no network")
    if asked.egress == "internet":
        if profile.egress != "internet":
            raise WiderThanProfile("the profile allows only its allow list, not the internet")
        return NetworkPolicy(egress="internet", deny=deny)
    if profile.egress == "allow":
        outside = [entry for entry in asked.allow if not _covered(entry, profile.allow)]
        if outside:
            raise WiderThanProfile(f"not on the profile's allow list: {', '.join(outside)}")
    return NetworkPolicy(egress="allow", allow=list(asked.allow), deny=deny)


def _covered(entry: str, allowed: Sequence[str]) -> bool:
    network = as_network(entry)
    for rule in allowed:
        rule_network = as_network(rule)
        if network is not None and rule_network is not None:
            if network.version == rule_network.version and network.subnet_of(rule_network):  # type: ignore[arg-type]
                return True
        elif network is None and rule_network is None:
            bare = entry[2:] if entry.startswith("*.") else entry
            if entry == rule or (rule.startswith("*.") and domain_matches(rule, bare)):
                return True
    return False
