"""The servers of the network lab (`lab.py`), one process in a namespace the test made:
`world DNS_ADDR CERT KEY` serves HTTP on :80, HTTPS on :443 (any name), a server-first TCP
banner on :7000 and DNS on DNS_ADDR:53; `host ADDR...` serves HTTP on ADDR:8080 for each.
Every HTTP answer names the address it was reached at, so a test sees where it landed."""

import asyncio
import ssl
import struct
import sys

# The test's DNS zone. `flip.test` answers a public address once, then a private one: the
# rebinding a proxy that trusts the sandbox's earlier answer would fall for.
ZONE = {
    "allowed.test": ["203.0.113.10"],
    "www.allowed.test": ["203.0.113.10"],
    "other.test": ["203.0.113.20"],
    "private.test": ["10.99.0.10"],
    "metadata.test": ["169.254.169.254"],
}
FLIP = ("flip.test", "203.0.113.10", "10.99.0.10")
_asked: set[str] = set()


async def http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
        writer.close()
        return
    local = writer.get_extra_info("sockname")[0]
    lines = head.split(b"\r\n")
    host = next((x.split(b":", 1)[1].strip() for x in lines if x.lower().startswith(b"host:")), b"")
    path = head.split(b" ", 2)[1] if head.count(b" ") >= 2 else b"/"
    if path.startswith(b"/bytes/"):  # /bytes/N: N bytes, for traffic counts, caps and speed
        await _send(writer, int(path.removeprefix(b"/bytes/")))
        return
    body = f"reached {local} as {host.decode(errors='replace')}\n".encode()
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    writer.close()


async def _send(writer: asyncio.StreamWriter, size: int) -> None:
    writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n".encode())
    chunk = b"x" * (1 << 20)
    while size > 0:
        writer.write(chunk[: min(size, len(chunk))])
        size -= len(chunk)
        await writer.drain()
    writer.close()


async def banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(f"banner from {writer.get_extra_info('sockname')[0]}\n".encode())
    await writer.drain()
    writer.close()


class Dns(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        ident, _ = struct.unpack_from(">HH", data)
        labels, offset = [], 12
        while data[offset]:
            labels.append(data[offset + 1 : offset + 1 + data[offset]].decode())
            offset += 1 + data[offset]
        qtype = struct.unpack_from(">H", data, offset + 1)[0]
        question = data[12 : offset + 5]
        name = ".".join(labels).lower()
        if name == FLIP[0]:
            addresses = [FLIP[2] if name in _asked else FLIP[1]]
            _asked.add(name)
        else:
            addresses = ZONE.get(name, [])
        found = name in ZONE or name == FLIP[0]
        answers = b""
        if qtype == 1:
            for address in addresses:
                packed = bytes(int(part) for part in address.split("."))
                answers += struct.pack(">HHHIH", 0xC00C, 1, 1, 0, 4) + packed
        count = len(addresses) if qtype == 1 else 0
        rcode = 0 if found else 3
        header = struct.pack(">HHHHHH", ident, 0x8180 | rcode, 1, count, 0, 0)
        self.transport.sendto(header + question + answers, addr)  # type: ignore[attr-defined]


async def world(dns_address: str, cert: str, key: str) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    servers = [
        await asyncio.start_server(http, "0.0.0.0", 80),
        await asyncio.start_server(http, "0.0.0.0", 443, ssl=context),
        await asyncio.start_server(banner, "0.0.0.0", 7000),
    ]
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(Dns, local_addr=(dns_address, 53))
    await _announce(servers)


async def host(addresses: list[str]) -> None:
    await _announce([await asyncio.start_server(http, address, 8080) for address in addresses])


async def _announce(servers: list[asyncio.Server]) -> None:
    sys.stdout.write("serving\n")
    sys.stdout.flush()
    await asyncio.gather(*(server.serve_forever() for server in servers))


if __name__ == "__main__":
    if sys.argv[1] == "world":
        asyncio.run(world(*sys.argv[2:5]))
    else:
        asyncio.run(host(sys.argv[2:]))
