"""Attacks on the sandbox's own walls, on every driver: its filesystem, its privileges, and the
network and sockets of the host. Each asserts the safe outcome."""

import os
import socket
import uuid
from collections.abc import Iterator

import pytest

from bay.drivers.base import Instance
from tests.engines import py, sh

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(300)]

# Try `call` and print `ok` or the errno's name: one line per attempt.
TRY = """
import errno, os
def attempt(name, call):
    try:
        call()
        print(name, "ok")
    except OSError as exc:
        print(name, errno.errorcode.get(exc.errno, exc.errno))
"""


async def attempts(instance: Instance, body: str) -> dict[str, str]:
    result = await py(instance, TRY + body)
    assert result["success"], result
    return dict(line.split(" ", 1) for line in result["text"].strip().splitlines())


# --- filesystem escape --------------------------------------------------------------------


async def test_root_filesystem_is_read_only(sandbox: Instance) -> None:
    found = await attempts(
        sandbox,
        """
attempt("etc", lambda: open("/etc/passwd", "a"))
attempt("usr", lambda: open("/usr/bin/shipyard-planted", "w"))
attempt("ship", lambda: open("/opt/ship/bin/planted", "w"))
attempt("root", lambda: os.mkdir("/planted"))
""",
    )
    assert set(found.values()) <= {"EROFS", "EACCES", "EPERM"}, found


async def test_hard_link_out_of_the_workspace_fails(sandbox: Instance) -> None:
    """A hard link would let the cargo's quota and deletion reach a file of the environment."""
    found = await attempts(sandbox, 'attempt("link", lambda: os.link("/etc/hostname", "x"))')
    assert found["link"] in {"EXDEV", "EPERM", "EACCES"}, found


async def test_proc_and_sys_cannot_be_written(sandbox: Instance) -> None:
    found = await attempts(
        sandbox,
        """
attempt("sysctl", lambda: open("/proc/sys/kernel/hostname", "w").write("owned"))
attempt("sysrq", lambda: open("/proc/sysrq-trigger", "w").write("h"))
attempt("core", lambda: open("/proc/sys/kernel/core_pattern", "w").write("|/tmp/x"))
attempt("sysfs", lambda: open("/sys/kernel/uevent_helper", "w").write("/tmp/x"))
""",
    )
    assert "ok" not in found.values(), found


async def test_no_device_can_be_made_or_opened(sandbox: Instance) -> None:
    """gVisor lets a node be made in its own memory file system: opening it reaches nothing."""
    found = await attempts(
        sandbox,
        """
import stat
def make_and_open():
    os.mknod("/tmp/disk", stat.S_IFBLK | 0o600, os.makedev(8, 0))
    open("/tmp/disk", "rb")
attempt("mknod", make_and_open)
attempt("mem", lambda: open("/dev/mem", "rb"))
attempt("kmsg", lambda: open("/dev/kmsg", "rb"))
attempt("vda", lambda: open("/dev/vda", "rb"))
""",
    )
    assert "ok" not in found.values(), found


async def test_mount_and_chroot_are_refused(sandbox: Instance) -> None:
    result = await sh(
        sandbox, "mount -t tmpfs none /tmp 2>&1; echo $?; chroot / true 2>&1; echo $?"
    )
    codes = [line for line in result["stdout"].splitlines() if line.isdigit()]
    assert codes, result
    assert "0" not in codes, result


# --- privilege --------------------------------------------------------------------------------


async def test_no_capabilities_and_no_new_privileges(sandbox: Instance) -> None:
    result = await sh(sandbox, "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status")
    fields = dict(line.split(":\t") for line in result["stdout"].strip().splitlines())
    assert {"CapPrm", "CapEff", "CapBnd"} <= set(fields), result  # gVisor shows no CapAmb
    assert set(fields.values()) == {"0000000000000000"}, fields
    get_no_new_privs = "import ctypes; print(ctypes.CDLL(None).prctl(39, 0, 0, 0, 0))"
    assert (await py(sandbox, get_no_new_privs))["text"].strip() == "1"


async def test_setuid_programs_give_no_root(sandbox: Instance) -> None:
    """The environment keeps Debian's setuid programs (su, mount, passwd); no_new_privs makes
    their bit inert: each runs as the sandbox user."""
    result = await sh(
        sandbox,
        "for p in $(find / -xdev -perm -4000 -type f 2>/dev/null); do echo $p; done; "
        "su -c id root </dev/null 2>&1; echo su=$?",
    )
    assert "su=0" not in result["stdout"], result
    assert "uid=0" not in result["stdout"], result


async def test_setuid_and_chown_to_root_fail(sandbox: Instance) -> None:
    found = await attempts(
        sandbox,
        """
open("mine", "w").close()
attempt("setuid", lambda: os.setuid(0))
attempt("setgid", lambda: os.setgid(0))
attempt("chown", lambda: os.chown("mine", 0, 0))
""",
    )
    # EINVAL where root is not even mapped (the local driver's user namespace).
    assert set(found.values()) <= {"EPERM", "EINVAL"}, found


async def test_the_sandbox_user_is_not_root(sandbox: Instance) -> None:
    result = await sh(sandbox, "id -u; id -g")
    assert result["stdout"].split() == ["1000", "1000"], result


# --- network and the host's sockets -----------------------------------------------------------


async def test_no_network_interface_but_loopback(sandbox: Instance) -> None:
    """Without network in its profile, nothing but the sandbox's own loopback exists."""
    result = await sh(sandbox, "tail -n +3 /proc/net/dev | cut -d: -f1")
    assert result["stdout"].split() == ["lo"], result


@pytest.fixture
def host_listener() -> Iterator[int]:
    """A TCP listener on the host's loopback, as Bay or any local service is."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setblocking(False)
        yield listener.getsockname()[1]
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing from the sandbox ever arrived


async def test_host_loopback_services_are_unreachable(
    sandbox: Instance, host_listener: int
) -> None:
    found = await attempts(
        sandbox,
        f"""
import socket
def connect():
    with socket.create_connection(("127.0.0.1", {host_listener}), timeout=5):
        pass
attempt("tcp", connect)
""",
    )
    assert found["tcp"] in {"ECONNREFUSED", "ENETUNREACH", "ETIMEDOUT"}, found


@pytest.fixture
def abstract_listener() -> Iterator[str]:
    """An abstract Unix socket on the host (X11 and D-Bus use them): per network namespace."""
    name = f"shipyard-test-{uuid.uuid4().hex[:8]}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind("\0" + name)
        listener.listen()
        yield name


async def test_host_abstract_sockets_are_unreachable(
    sandbox: Instance, abstract_listener: str
) -> None:
    found = await attempts(
        sandbox,
        f"""
import socket
def connect():
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect("\\0{abstract_listener}")
attempt("abstract", connect)
""",
    )
    assert found["abstract"] == "ECONNREFUSED", found


async def test_host_unix_sockets_are_not_in_view(sandbox: Instance) -> None:
    """dockerd's socket, systemd's, Bay's own run dirs: none is a path inside."""
    paths = ["/var/run/docker.sock", "/run/docker.sock", "/run/systemd/private", "/run/shipyard"]
    if os.path.exists("/run/dbus/system_bus_socket"):
        paths.append("/run/dbus/system_bus_socket")
    result = await sh(sandbox, "; ".join(f"test -e {p} && echo seen {p}" for p in paths) + "; true")
    assert "seen" not in result["stdout"], result
