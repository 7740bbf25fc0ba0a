"""The egress proxy's rules without a network: policies, names read from the first bytes,
DNS wire format. The walls themselves are attacked in tests/network."""

import ipaddress
import ssl
import struct

import pytest

from bay.egress import dns, peek
from bay.egress.policy import Policy, WiderThanProfile, denied_always, domain_matches, narrowed
from shipyard_protocol.api import NetworkPolicy

HOST = [ipaddress.ip_address("192.0.2.1")]


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
     "224.0.0.1", "0.0.0.0", "::1", "fd00:ec2::254", "fe80::1", "::ffff:10.0.0.1",
     "::ffff:127.0.0.1", "64:ff9b::a00:1", "192.0.2.1"],
)  # fmt: skip
def test_always_denied_whatever_the_policy(address: str) -> None:
    assert denied_always(ipaddress.ip_address(address), HOST)


@pytest.mark.parametrize("address", ["203.0.113.10", "8.8.8.8", "2001:db8::1"])
def test_public_addresses_are_not_denied_by_range(address: str) -> None:
    assert not denied_always(ipaddress.ip_address(address), HOST)


def test_wildcards_match_below_the_domain_only() -> None:
    assert domain_matches("*.example.com", "a.example.com")
    assert domain_matches("*.example.com", "a.b.example.com")
    assert not domain_matches("*.example.com", "example.com")
    assert not domain_matches("*.example.com", "badexample.com")
    assert not domain_matches("example.com", "a.example.com")


def test_an_allow_list_allows_its_names_and_cidrs_and_deny_wins() -> None:
    policy = Policy.of(
        NetworkPolicy(egress="allow", allow=["*.ok.test", "203.0.113.0/24"], deny=["bad.ok.test"])
    )
    assert policy.name_allowed("a.ok.test")
    assert not policy.name_allowed("bad.ok.test")
    assert not policy.name_allowed("203.0.113.5")  # an IP is never a name
    assert policy.address_allowed(ipaddress.ip_address("203.0.113.5"))
    assert not policy.address_allowed(ipaddress.ip_address("198.51.100.1"))


def test_a_create_narrows_within_the_profile() -> None:
    profile = NetworkPolicy(
        egress="allow", allow=["*.ok.test", "203.0.113.0/24"], deny=["x.ok.test"]
    )
    asked = NetworkPolicy(egress="allow", allow=["a.ok.test", "203.0.113.8/29"])
    got = narrowed(profile, asked)
    assert (got.egress, got.allow, got.deny) == ("allow", asked.allow, ["x.ok.test"])
    assert narrowed(profile, NetworkPolicy()).egress == "none"
    for wider in (
        NetworkPolicy(egress="internet"),
        NetworkPolicy(egress="allow", allow=["other.test"]),
        NetworkPolicy(egress="allow", allow=["203.0.0.0/16"]),
    ):
        with pytest.raises(WiderThanProfile):
            narrowed(profile, wider)
    with pytest.raises(WiderThanProfile, match="no network"):
        narrowed(NetworkPolicy(), NetworkPolicy(egress="internet"))


def test_shorthands_and_bad_entries() -> None:
    from pydantic import TypeAdapter

    from shipyard_protocol.api import NetworkSetting

    adapter = TypeAdapter(NetworkSetting)
    assert adapter.validate_python("internet").egress == "internet"
    assert adapter.validate_python(False).egress == "none"
    assert adapter.validate_python({"egress": "allow", "allow": ["A.Test."]}).allow == ["a.test"]
    for bad in ("http://a.test/", "a..test", "*", "a.test/path"):
        with pytest.raises(ValueError, match="neither a domain"):
            adapter.validate_python({"egress": "allow", "allow": [bad]})


def _client_hello(name: str) -> bytes:
    context = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=name)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def test_sni_is_read_from_a_client_hello_even_in_pieces() -> None:
    hello = _client_hello("www.allowed.test")
    assert peek.name(hello) == "www.allowed.test"
    assert peek.name(hello[:40]) is None  # wait for more
    assert peek.kind(hello) is peek.Kind.TLS


def test_host_is_read_from_an_http_request() -> None:
    assert peek.name(b"GET / HTTP/1.1\r\nHost: a.test:8080\r\n\r\n") == "a.test"
    assert peek.name(b"GET / HTTP/1.1\r\nhost: [2001:db8::1]:80\r\n\r\n") == "2001:db8::1"
    assert peek.name(b"GET / HTTP/1.1\r\nHost: a.test") is None
    assert peek.name(b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n") == ""
    assert peek.name(b"SSH-2.0-OpenSSH\r\n") == ""


def test_dns_answers_a_question_with_its_records() -> None:
    query = struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0) + b"\x01a\x04test\x00\x00\x01\x00\x01"
    question = dns.parse(query)
    assert (question.name, question.qtype) == ("a.test", dns.A)
    reply = dns.answer(question, ["203.0.113.10", "2001:db8::1"])
    ident, flags, _, answers, _, _ = struct.unpack_from(">HHHHHH", reply)
    assert (ident, flags & 0x8000, flags & 0xF, answers) == (7, 0x8000, 0, 1)
    assert reply.endswith(bytes([203, 0, 113, 10]))
    refused = dns.answer(question, rcode=dns.NXDOMAIN)
    assert struct.unpack_from(">HH", refused)[1] & 0xF == dns.NXDOMAIN
    with pytest.raises(dns.MalformedQuery):
        dns.parse(b"\x00\x01")
