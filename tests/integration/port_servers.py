"""Servers the port tests start inside a sandbox, standard library only (user code there
cannot import Ship's packages): `hash PORT` answers a POST with the SHA-256 and size of its
body; `echo PORT` is a WebSocket echo (RFC 6455, unfragmented messages)."""

import asyncio
import base64
import hashlib
import struct
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class HashHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        digest, size = hashlib.sha256(), 0
        for chunk in self._body():
            digest.update(chunk)
            size += len(chunk)
        answer = f"{digest.hexdigest()} {size}".encode()
        self.send_response(200)
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def _body(self) -> Iterator[bytes]:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            while size := int(self.rfile.readline().split(b";")[0], 16):
                yield self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
            return
        left = int(self.headers.get("content-length") or 0)
        while left:
            chunk = self.rfile.read(min(left, 1 << 20))
            left -= len(chunk)
            yield chunk


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    headers = dict(
        (k.strip().lower(), v.strip()) for k, _, v in (x.partition(":") for x in head.split("\r\n"))
    )
    accept = base64.b64encode(hashlib.sha1(headers["sec-websocket-key"].encode() + GUID).digest())  # noqa: S324
    writer.write(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )
    while True:
        first, second = await reader.readexactly(2)
        opcode, length = first & 0x0F, second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await reader.readexactly(8))
        mask = await reader.readexactly(4)
        data = bytes(b ^ mask[i % 4] for i, b in enumerate(await reader.readexactly(length)))
        if opcode == 8:
            writer.write(b"\x88\x02" + data[:2])
            await writer.drain()
            writer.close()
            return
        writer.write(bytes([0x80 | opcode]) + _length(len(data)) + data)
        await writer.drain()


def _length(size: int) -> bytes:
    if size < 126:
        return bytes([size])
    if size < 1 << 16:
        return bytes([126]) + struct.pack("!H", size)
    return bytes([127]) + struct.pack("!Q", size)


async def serve_echo(port: int) -> None:
    server = await asyncio.start_server(echo, "127.0.0.1", port)
    await server.serve_forever()


if __name__ == "__main__":
    kind, port = sys.argv[1], int(sys.argv[2])
    if kind == "hash":
        ThreadingHTTPServer(("127.0.0.1", port), HashHandler).serve_forever()
    else:
        asyncio.run(serve_echo(port))
