"""The name a connection's first bytes give: TLS SNI, or the Host of an HTTP request."""

import re
import struct
from enum import Enum

MAX_PEEK = 16 * 1024
_HTTP_METHOD = re.compile(rb"^[A-Z]{3,12} \S+ HTTP/1\.[01]\r\n")
_HOST = re.compile(rb"\r\nhost:[ \t]*([^\r\n]*)\r\n", re.IGNORECASE)


class Kind(Enum):
    TLS = "tls"
    HTTP = "http"
    OTHER = "other"


def kind(head: bytes) -> Kind:
    if head[:1] == b"\x16":
        return Kind.TLS
    if re.match(rb"^[A-Z]{3,12} ", head):
        return Kind.HTTP
    return Kind.OTHER


def name(head: bytes) -> str | None:
    """The name in `head`, None when it needs more bytes; "" when there is none to find."""
    found = kind(head)
    if found is Kind.TLS:
        return _sni(head)
    if found is Kind.HTTP:
        return _host(head)
    return ""


def _host(head: bytes) -> str | None:
    end = head.find(b"\r\n\r\n")
    if end < 0:
        return "" if len(head) >= MAX_PEEK else None
    request = head[: end + 2]
    if not _HTTP_METHOD.match(request):
        return ""
    found = _HOST.search(request)
    if found is None:
        return ""
    host = found.group(1).strip().decode("ascii", "replace")
    if host.startswith("["):  # [v6]:port
        return host[1 : host.find("]")] if "]" in host else ""
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _sni(head: bytes) -> str | None:
    """The server_name of a ClientHello, reassembled from its TLS records."""
    hello = bytearray()
    offset = 0
    while offset + 5 <= len(head):
        content_type, _, length = struct.unpack_from(">BHH", head, offset)
        if content_type != 0x16:
            return ""
        record = head[offset + 5 : offset + 5 + length]
        hello += record
        offset += 5 + length
        if len(record) < length:
            break
        if len(hello) >= 4 and len(hello) >= 4 + int.from_bytes(hello[1:4], "big"):
            return _hello_sni(bytes(hello))
    return "" if len(head) >= MAX_PEEK else None


def _hello_sni(hello: bytes) -> str:
    try:
        if hello[0] != 0x01:  # ClientHello
            return ""
        pos = 4 + 2 + 32  # handshake header, version, random
        pos += 1 + hello[pos]  # session id
        pos += 2 + struct.unpack_from(">H", hello, pos)[0]  # cipher suites
        pos += 1 + hello[pos]  # compression methods
        end = pos + 2 + struct.unpack_from(">H", hello, pos)[0]
        pos += 2
        while pos + 4 <= end:
            ext_type, ext_len = struct.unpack_from(">HH", hello, pos)
            pos += 4
            if ext_type == 0:  # server_name: list length, then (type, length, name)
                name_type, name_len = struct.unpack_from(">BH", hello, pos + 2)
                if name_type == 0:
                    return hello[pos + 5 : pos + 5 + name_len].decode("ascii", "replace")
                return ""
            pos += ext_len
    except (IndexError, struct.error):
        return ""
    return ""
