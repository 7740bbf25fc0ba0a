"""The proxy: takes the sandbox's redirected connections and DNS questions, lets through
what its policy allows, and counts every byte."""

import asyncio
import contextlib
import ipaddress
import logging
import socket
import struct
import time
from dataclasses import replace
from typing import cast

from bay.egress import dns, peek
from bay.egress.policy import Address, Policy, denied_always
from bay.egress.stats import StatsFile, Traffic

logger = logging.getLogger("bay.egress")

SO_ORIGINAL_DST = 80
_CHUNK = 64 * 1024
PEEK_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 30.0


class Bucket:
    """A token bucket of `rate` bytes a second shared by every connection, one a direction."""

    def __init__(self, rate: float | None) -> None:
        self._rate = rate
        self._tokens = rate or 0.0
        self._at = time.monotonic()

    async def take(self, count: int) -> None:
        if not self._rate:
            return
        now = time.monotonic()
        self._tokens = min(self._rate, self._tokens + (now - self._at) * self._rate)
        self._at = now
        self._tokens -= count
        if self._tokens < 0:
            await asyncio.sleep(-self._tokens / self._rate)


class Refused(Exception):
    """A connection the policy does not allow; the message says why."""


class Proxy:
    def __init__(
        self,
        policy: Policy,
        host_addresses: frozenset[Address],
        stats: StatsFile | None,
        bandwidth_mbit: float | None = None,
    ) -> None:
        self._policy = policy
        self._host = host_addresses
        self._stats = stats
        self.traffic = Traffic()
        rate = bandwidth_mbit * 125_000 if bandwidth_mbit else None
        self._up, self._down = Bucket(rate), Bucket(rate)
        self._written: Traffic | None = None

    async def serve(self, listener: socket.socket, dns_socket: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        server = await asyncio.start_server(self._connection, sock=listener)
        await loop.create_datagram_endpoint(lambda: _Dns(self), sock=dns_socket)
        async with server:
            while True:
                self.write_stats()
                await asyncio.sleep(1.0)

    def write_stats(self) -> None:
        if self._stats is None or self._written == self.traffic:
            return
        with contextlib.suppress(OSError):  # the run dir goes when the session does
            self._stats.write(self.traffic)
            self._written = replace(self.traffic)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.traffic.connections += 1
        head = b""
        try:
            address, port = _original_destination(writer.get_extra_info("socket"))
            head, name = await self._name(reader, address)
            target = await self._target(address, name)
            upstream = await self._open(target, port)
        except Refused as refusal:
            self.traffic.refused += 1
            logger.warning("refused: %s", refusal)
            await _refuse(writer, head, str(refusal))
            return
        except (OSError, TimeoutError) as exc:
            logger.info("connection failed: %s", exc)
            writer.close()
            return
        await self._splice(reader, writer, upstream, head)

    async def _name(self, reader: asyncio.StreamReader, address: Address) -> tuple[bytes, str]:
        """The connection's first bytes and the name they give, when a name can matter."""
        if denied_always(address, self._host):
            raise Refused(f"{address} is never reachable from a sandbox")
        if not self._policy.needs_names:
            return b"", ""
        head = b""
        deadline = asyncio.get_running_loop().time() + PEEK_TIMEOUT_S
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0 or len(head) >= peek.MAX_PEEK:
                return head, ""
            try:
                chunk = await asyncio.wait_for(reader.read(peek.MAX_PEEK), remaining)
            except TimeoutError:
                return head, ""
            if not chunk:
                return head, ""
            head += chunk
            found = peek.name(head)
            if found is not None:
                return head, found

    async def _target(self, address: Address, name: str) -> Address:
        """Where to connect: the address asked for, or where an allowed name resolves now."""
        policy = self._policy
        if name and policy.deny.names(name):
            raise Refused(f"{name} is on its deny list")
        if policy.address_allowed(address):
            return address
        if not name:
            raise Refused(f"{address} is not on its allow list")
        if not policy.name_allowed(name):
            raise Refused(f"{name} is not on its allow list")
        resolved = await resolve(name)
        usable = [a for a in resolved if not denied_always(a, self._host)]
        usable = [a for a in usable if not policy.deny.holds(a)]
        if not usable:
            shown = ", ".join(map(str, resolved)) or "nothing"
            raise Refused(f"{name} resolves to {shown}, which no sandbox may reach")
        return address if address in usable else usable[0]

    async def _open(
        self, address: Address, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(str(address), port), CONNECT_TIMEOUT_S
        )
        local = writer.get_extra_info("sockname")[0]
        if ipaddress.ip_address(local) == address:  # one of this host's own addresses
            writer.close()
            raise Refused(f"{address} is this host")
        return reader, writer

    async def _splice(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        head: bytes,
    ) -> None:
        up_reader, up_writer = upstream
        if head:
            self.traffic.bytes_out += len(head)
            up_writer.write(head)
        await asyncio.gather(
            self._pump(reader, up_writer, self._up, outbound=True),
            self._pump(up_reader, writer, self._down, outbound=False),
            return_exceptions=True,
        )

    async def _pump(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        bucket: Bucket,
        outbound: bool,
    ) -> None:
        try:
            while chunk := await source.read(_CHUNK):
                if outbound:
                    self.traffic.bytes_out += len(chunk)
                else:
                    self.traffic.bytes_in += len(chunk)
                await bucket.take(len(chunk))
                sink.write(chunk)
                await sink.drain()
            if sink.can_write_eof():
                sink.write_eof()
        except OSError:
            sink.close()
            raise
        finally:
            if source.at_eof():
                with contextlib.suppress(OSError):
                    await sink.drain()

    def dns_allowed(self, name: str) -> bool:
        return self._policy.name_allowed(name)


class _Dns(asyncio.DatagramProtocol):
    """Answers A questions for names the policy allows, from this host's resolver."""

    def __init__(self, proxy: Proxy) -> None:
        self._proxy = proxy
        self._transport: asyncio.DatagramTransport | None = None
        self._answering: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Python 3.11's selector transport does not subclass DatagramTransport, though it is one.
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            question = dns.parse(data)
        except dns.MalformedQuery:
            return
        task = asyncio.get_running_loop().create_task(self._answer(question, addr))
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)

    async def _answer(self, question: dns.Question, addr: tuple[str, int]) -> None:
        try:
            reply = await self._reply(question)
        except Exception:
            logger.exception("DNS question for %s failed", question.name)
            reply = dns.answer(question, rcode=dns.SERVFAIL)
        if self._transport is not None:
            self._transport.sendto(reply, addr)

    async def _reply(self, question: dns.Question) -> bytes:
        if not self._proxy.dns_allowed(question.name):
            reply = dns.answer(question, rcode=dns.NXDOMAIN)
        elif question.qtype != dns.A:
            reply = dns.answer(question)  # no IPv6 route in a sandbox: no AAAA to try
        else:
            try:
                reply = dns.answer(question, [str(a) for a in await resolve(question.name)])
            except socket.gaierror as exc:
                missing = exc.errno in (socket.EAI_NONAME, socket.EAI_NODATA)
                reply = dns.answer(question, rcode=dns.NXDOMAIN if missing else dns.SERVFAIL)
        return reply


async def resolve(name: str) -> list[Address]:
    """IPv4 addresses of `name` by this host's resolver (hosts file, then DNS)."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        name, None, family=socket.AF_INET, type=socket.SOCK_STREAM
    )
    found: list[Address] = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if address not in found:
            found.append(address)
    return found


def _original_destination(sock: socket.socket) -> tuple[Address, int]:
    raw = sock.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    port = struct.unpack_from(">H", raw, 2)[0]
    return ipaddress.ip_address(raw[4:8]), port


async def _refuse(writer: asyncio.StreamWriter, head: bytes, reason: str) -> None:
    """An HTTP client is told why in a 403; anything else gets a reset."""
    try:
        if peek.kind(head) is peek.Kind.HTTP:
            body = f"blocked by the sandbox's network policy: {reason}\n".encode()
            writer.write(
                b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n"
                + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
            writer.close()
            return
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.close()
    except OSError:
        writer.close()


def main_pid_gone(pidfd: int) -> asyncio.Future[None]:
    """Resolves when the process behind `pidfd` (the sandbox's first process) exits."""
    loop = asyncio.get_running_loop()
    gone: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        loop.remove_reader(pidfd)
        if not gone.done():
            gone.set_result(None)

    loop.add_reader(pidfd, readable)
    return gone
