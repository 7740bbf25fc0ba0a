"""Just enough of the DNS wire format (RFC 1035) to answer a sandbox's questions."""

import ipaddress
import struct
from collections.abc import Sequence
from dataclasses import dataclass

A, AAAA = 1, 28
NOERROR, SERVFAIL, NXDOMAIN, REFUSED = 0, 2, 3, 5
_HEADER = struct.Struct(">HHHHHH")
_TTL = 30


class MalformedQuery(ValueError):
    """Not a DNS query this responder can read."""


@dataclass(frozen=True)
class Question:
    ident: int
    flags: int
    name: str
    qtype: int
    raw: bytes  # the question section as sent, echoed in the answer


def parse(packet: bytes) -> Question:
    """The first question of a standard query; no compression is allowed in questions."""
    if len(packet) < _HEADER.size:
        raise MalformedQuery("short packet")
    ident, flags, qdcount, _, _, _ = _HEADER.unpack_from(packet)
    if flags & 0x8000 or (flags >> 11) & 0xF != 0 or qdcount < 1:
        raise MalformedQuery("not a standard query")
    labels, offset = [], _HEADER.size
    while True:
        if offset >= len(packet):
            raise MalformedQuery("truncated name")
        length = packet[offset]
        offset += 1
        if length == 0:
            break
        if length > 63 or offset + length > len(packet):
            raise MalformedQuery("bad label")
        labels.append(packet[offset : offset + length].decode("ascii", "replace"))
        offset += length
    if offset + 4 > len(packet):
        raise MalformedQuery("truncated question")
    qtype, _ = struct.unpack_from(">HH", packet, offset)
    raw = packet[_HEADER.size : offset + 4]
    return Question(ident, flags, ".".join(labels).lower(), qtype, raw)


def answer(question: Question, addresses: Sequence[str] = (), rcode: int = NOERROR) -> bytes:
    """A response to `question`: its A or AAAA records from `addresses` (the rest skipped)."""
    records = []
    for text in addresses:
        address = ipaddress.ip_address(text)
        qtype = A if address.version == 4 else AAAA
        if qtype == question.qtype:
            # 0xC00C: a pointer to the question's name, right after the header.
            records.append(struct.pack(">HHHIH", 0xC00C, qtype, 1, _TTL, len(address.packed)))
            records.append(address.packed)
    count = sum(1 for text in addresses if _qtype(text) == question.qtype)
    flags = 0x8000 | (question.flags & 0x0100) | 0x0080 | rcode  # QR, RD echoed, RA
    header = _HEADER.pack(question.ident, flags, 1, count if rcode == NOERROR else 0, 0, 0)
    body = b"".join(records) if rcode == NOERROR else b""
    return header + question.raw + body


def _qtype(text: str) -> int:
    return A if ipaddress.ip_address(text).version == 4 else AAAA
