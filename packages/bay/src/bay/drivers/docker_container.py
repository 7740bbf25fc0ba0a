"""What a session's container is made of: user, mounts, limits, network and environment."""

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from bay.drivers import docker_network, seccomp
from bay.drivers.base import PRESTART_BROWSER, BrowserSpec, SessionSpec, network_env
from bay.drivers.docker_network import TcpChannel
from bay.egress.launch import Egress
from shipyard_protocol.api import NetworkPolicy

SANDBOX_UID = 1000
WORKSPACE = "/workspace"
SHIP_RUN = "/run/ship"
SOCKET_NAME = "ship.sock"
READY_NAME = "ready"
# How Bay reaches this container's Ship: networked socket-mode containers sit on Bay's
# egress network too, so the network alone does not tell.
SHIP_CHANNEL_LABEL = "bay.ship_channel"
# Which runtime of a session a container runs: absent on Ship's own, `browser` on its sidecar.
RUNTIME_LABEL = "bay.runtime"
BROWSER_SUFFIX = "-browser"
# What only the session's Ship acts on: the sidecar's Ship serves the browser, starts no
# kernel, and ends with the session's container rather than on its own lease.
_SHIP_ONLY_ENV = ("SHIP_ORPHAN_AFTER_S", "SHIP_PRESTART_KERNEL", "SHIP_PRELOAD")
_MIB = 1024 * 1024
_SANDBOX_TMP = "/tmp"  # noqa: S108 - a tmpfs inside the container, not a host path


def container_config(
    spec: SessionSpec,
    run: Path,
    tmp_size_mb: int,
    tcp: TcpChannel | None = None,
) -> dict[str, Any]:
    """The container: unprivileged, read-only, without a route out, limited by the profile.

    With `tcp`, it joins Bay's internal network and Ship listens on its port there; the run
    dir is mounted only when the engine shares our files. A sandbox with a network policy
    reaches out only through its proxy, which the driver starts once the container runs.
    """
    limits = spec.limits
    profile_env = dict(spec.env)
    if spec.browser is not None:
        profile_env.pop(PRESTART_BROWSER, None)  # the sidecar runs the browser, not this Ship
    # Whole MiB (size=0 would mean no limit at all).
    tmp_mb = max(limits.tmpfs_bytes(tmp_size_mb * _MIB) // _MIB, 1)
    binds = [f"{spec.cargo_ref}:{WORKSPACE}:rw"]
    if tcp is None or tcp.shared_run:
        binds.append(f"{run}:{SHIP_RUN}:rw")
    host: dict[str, Any] = {
        "Binds": binds,
        "Tmpfs": {_SANDBOX_TMP: f"rw,nosuid,nodev,size={tmp_mb}m,mode=1777"},
        "ShmSize": tmp_mb * _MIB,
        "ReadonlyRootfs": True,
        "CapDrop": ["ALL"],
        "SecurityOpt": ["no-new-privileges", f"seccomp={json.dumps(_filter(spec.runtime))}"],
        "NetworkMode": tcp.network if tcp is not None else "none",
        "Init": True,  # reaps the orphans a shell leaves, which would count against PidsLimit
        "IpcMode": "private",
        "LogConfig": {"Type": "json-file", "Config": {"max-size": "1m", "max-file": "1"}},
    }
    if limits.memory_bytes > 0:
        # Swap equal to memory means no swap: the limit cannot be dodged by paging out.
        host["Memory"] = host["MemorySwap"] = limits.memory_bytes
    if limits.cpus > 0:
        host["NanoCpus"] = int(limits.cpus * 1_000_000_000)
    if limits.pids > 0:
        host["PidsLimit"] = limits.pids
    if spec.runtime:
        host["Runtime"] = spec.runtime
    return {
        "Image": spec.image,
        "User": f"{SANDBOX_UID}:{SANDBOX_UID}",
        "Env": [f"{k}={v}" for k, v in sandbox_env(profile_env, spec.egress, tcp).items()],
        "Labels": {**spec.labels.as_dict(), SHIP_CHANNEL_LABEL: "tcp" if tcp else "socket"},
        "WorkingDir": WORKSPACE,
        "Hostname": "sandbox",
        "HostConfig": host,
    }


def browser_config(
    spec: SessionSpec,
    browser: BrowserSpec,
    run: Path,
    tmp_size_mb: int,
    session_container: str,
    tcp: TcpChannel | None = None,
) -> dict[str, Any]:
    """The browser sidecar: the session's image and walls with the browser's own limits, in
    the session container's network namespace (its policy and proxy hold for the browser
    too) and its pid namespace, so the sidecar dies with it. Its Ship listens on its own
    run dir's socket, or on BROWSER_PORT with `tcp`.
    """
    env = {key: value for key, value in spec.env.items() if key not in _SHIP_ONLY_ENV}
    env["SHIP_ROLE"] = "browser"
    sidecar = replace(spec, limits=browser.limits, env=env)
    config = container_config(sidecar, run, tmp_size_mb, None)
    config["Env"] = [
        f"{k}={v}"
        for k, v in sandbox_env(env, spec.egress, tcp, docker_network.BROWSER_PORT).items()
    ]
    if tcp is not None and not tcp.shared_run:
        config["HostConfig"]["Binds"].remove(f"{run}:{SHIP_RUN}:rw")
    # Docker refuses a hostname of its own in another container's network namespace.
    del config["Hostname"]
    config["HostConfig"]["NetworkMode"] = config["HostConfig"]["PidMode"] = (
        f"container:{session_container}"
    )
    config["Labels"][RUNTIME_LABEL] = "browser"
    config["Labels"][SHIP_CHANNEL_LABEL] = "tcp" if tcp else "socket"
    return config


def sandbox_env(
    profile_env: Mapping[str, str],
    egress: Egress | None = None,
    tcp: TcpChannel | None = None,
    port: int = docker_network.SHIP_PORT,
) -> dict[str, str]:
    """Over the image's env (sandbox.env): the user, the network's and the profile's, then
    Ship's own variables, which always win."""
    user = {"HOME": WORKSPACE, "USER": "shipyard", "LOGNAME": "shipyard"}
    env = {**user, **network_env(egress or Egress(NetworkPolicy())), **profile_env}
    env["SHIP_WORKSPACE"] = WORKSPACE
    env["SHIP_SOCKET"] = f"{SHIP_RUN}/{SOCKET_NAME}"
    env["SHIP_READY_FILE"] = f"{SHIP_RUN}/{READY_NAME}"
    if tcp is not None:
        env.update(docker_network.ship_env(tcp, port))
        if not tcp.shared_run:
            del env["SHIP_READY_FILE"]
    return env


def _filter(runtime: str | None) -> dict[str, Any]:
    return seccomp.docker_profile(gvisor=(runtime or "").startswith("runsc"))
