"""`python -m bay.egress`: one sandbox's proxy, started by its driver.

It walls the sandbox's network namespace (given as an open fd), listens there, detaches,
says `ready` on stdout, drops to `nobody` and serves until the sandbox's first process
(given as a pidfd) exits. It outlives Bay, like the sandbox it serves.
"""

import argparse
import asyncio
import logging
import os
import socket
import sys
from pathlib import Path

from bay.egress import netns
from bay.egress.policy import Policy
from bay.egress.proxy import Proxy, main_pid_gone
from bay.egress.stats import StatsFile
from shipyard_protocol.api import NetworkPolicy

NOBODY = 65534


def main() -> None:
    args = _arguments()
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")
    policy = Policy.of(NetworkPolicy.model_validate_json(args.policy))
    host = netns.own_addresses()
    with netns.entered(args.netns_fd):
        netns.wall()
        listener = socket.create_server(("127.0.0.1", netns.PROXY_PORT), backlog=512)
        resolver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        resolver.bind(("127.0.0.1", netns.DNS_PORT))
    os.close(args.netns_fd)
    stats = StatsFile.create(args.stats) if args.stats else None
    if os.fork() != 0:
        os._exit(0)  # the driver reaps this parent; the proxy lives on, an orphan
    _drop_privileges()
    os.write(1, b"ready\n")
    _detach_stdout()
    proxy = Proxy(policy, host, stats, args.bandwidth_mbit)
    asyncio.run(_serve(proxy, listener, resolver, args.pidfd))


async def _serve(
    proxy: Proxy, listener: socket.socket, resolver: socket.socket, pidfd: int
) -> None:
    gone = main_pid_gone(pidfd)
    serving = asyncio.ensure_future(proxy.serve(listener, resolver))
    await asyncio.wait({gone, serving}, return_when=asyncio.FIRST_COMPLETED)
    serving.cancel()
    proxy.write_stats()
    if serving.done() and not serving.cancelled() and serving.exception() is not None:
        raise SystemExit(f"egress proxy failed: {serving.exception()}")


def _drop_privileges() -> None:
    if os.geteuid() == 0:
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)


def _detach_stdout() -> None:
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.close(null)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bay.egress")
    parser.add_argument("--netns-fd", type=int, required=True)
    parser.add_argument("--pidfd", type=int, required=True)
    parser.add_argument("--policy", required=True, help="the NetworkPolicy as JSON")
    parser.add_argument("--stats", type=Path, help="where to keep the traffic counters")
    parser.add_argument("--bandwidth-mbit", type=float, default=None)
    return parser.parse_args()


if __name__ == "__main__":
    main()
