"""Syscalls a sandbox must not make: each attack asserts the call is refused, on every driver.

Each attack prints `allowed` when the kernel did what it asked, else the errno's name. The
numbers are x86_64's (this machine's); every one was allowed on the local driver before its
syscall filter.
"""

import platform
import textwrap

import pytest

from bay.drivers.base import Instance
from tests.engines import py

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.timeout(300),
    pytest.mark.skipif(platform.machine() != "x86_64", reason="syscall numbers are x86_64's"),
]

PRELUDE = """
import ctypes, errno, os, socket
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def verdict(result):
    if result >= 0:
        return "allowed"
    return errno.errorcode.get(ctypes.get_errno(), "?")
def sc(number, *args):
    return verdict(libc.syscall(ctypes.c_long(number), *[ctypes.c_ulong(a) for a in args]))
BUFFER = ctypes.create_string_buffer(8)
IOV = (ctypes.c_void_p * 2)(ctypes.addressof(BUFFER), 8)
def family(number, kind=socket.SOCK_STREAM):
    try:
        socket.socket(number, kind).close()
    except OSError as exc:
        return errno.errorcode.get(exc.errno, "?")
    return "allowed"
"""

ATTACKS = {
    # kernel keyrings: one host uid's keys were every local sandbox's
    "add_key": ('print(verdict(libc.syscall(248, b"user", b"k", b"v", 1, ctypes.c_long(-3))))'),
    "keyctl_user_keyring": "print(sc(250, 0, 2**64 - 4, 0))",
    "request_key": 'print(verdict(libc.syscall(249, b"user", b"k", None, 0)))',
    # reading and steering other processes, pid 1 (bwrap, holding Bay's pipes) above all
    "pidfd_getfd_of_pid1": "print(sc(438, os.pidfd_open(1), 1, 0))",
    "ptrace_attach_pid1": "print(sc(101, 0x4206, 1, 0, 0))",
    "ptrace_traceme": "print(sc(101, 0, 0, 0, 0))",
    "process_vm_readv": ("print(verdict(libc.syscall(310, os.getpid(), IOV, 1, IOV, 1, 0)))"),
    "process_vm_writev": ("print(verdict(libc.syscall(311, os.getpid(), IOV, 1, IOV, 1, 0)))"),
    "kcmp": "print(sc(312, os.getpid(), os.getpid(), 0, 0, 0))",
    # kernel surface: io_uring, userfaultfd, bpf, perf
    "io_uring_setup": (
        "params = ctypes.create_string_buffer(120)\nprint(verdict(libc.syscall(425, 4, params)))"
    ),
    "userfaultfd_user_mode": "print(sc(323, 1))",
    "userfaultfd_kernel": "print(sc(323, 0))",
    "bpf_map_create": (
        "attr = (ctypes.c_uint32 * 30)(2, 4, 4, 1)\nprint(verdict(libc.syscall(321, 0, attr, 120)))"
    ),
    "perf_event_open": (
        "attr = (ctypes.c_uint32 * 32)(1, 128)\n"
        "print(verdict(libc.syscall(298, attr, 0, -1, -1, 0)))"
    ),
    # personality flags that turn off address randomisation or make data executable
    "personality_no_aslr": "print(sc(135, 0x0040000))",
    "personality_read_implies_exec": "print(sc(135, 0x0400000))",
    "personality_high_bits": "print(sc(135, (1 << 32) | 0x0040000))",
    # NUMA placement and memory protection keys
    "set_mempolicy": "print(sc(238, 0, 0, 0))",
    "mbind": "print(sc(237, 0, 0, 0, 0, 0, 0))",
    "move_pages": "print(sc(279, 0, 0, 0, 0, 0, 0))",
    "migrate_pages": "print(sc(256, 0, 64, 0, 0))",
    "pkey_alloc": "print(sc(330, 0, 0))",
    # socket families off the sandbox's path: the hypervisor, the kernel's crypto, raw frames
    "socket_af_vsock": "print(family(40))",
    "socket_af_alg": "print(family(38, socket.SOCK_SEQPACKET))",
    "socket_af_packet": "print(family(17, socket.SOCK_RAW))",
    "socket_af_key": "print(family(15, socket.SOCK_RAW))",
    "socket_af_tipc": "print(family(30, socket.SOCK_RDM))",
    "socket_unknown_family": "print(family(99))",
    "socketpair_af_tipc": (
        "a = ctypes.c_int * 2\nprint(verdict(libc.socketpair(30, socket.SOCK_DGRAM, 0, a())))"
    ),
    # namespaces, mounts and file handles
    "unshare_user": "print(sc(272, 0x10000000))",
    "unshare_mount": "print(sc(272, 0x20000))",
    "unshare_net": "print(sc(272, 0x40000000))",
    "setns_own_mnt": (  # gVisor has no namespace files: nothing to join
        "ns = '/proc/self/ns/mnt'\n"
        "print(sc(308, os.open(ns, os.O_RDONLY), 0) if os.path.exists(ns) else 'NO_NS_FILE')"
    ),
    "mount_tmpfs": 'print(verdict(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)))',
    "fsopen": 'print(verdict(libc.syscall(430, b"tmpfs", 0)))',
    "open_tree": 'print(verdict(libc.syscall(428, -100, b"/", 1)))',
    "chroot": 'print(verdict(libc.chroot(b"/tmp")))',
    "open_by_handle_at": (
        "handle = (ctypes.c_uint32 * 32)(8, 1)\nprint(verdict(libc.syscall(304, -100, handle, 0)))"
    ),
    "name_to_handle_at": (
        "handle = (ctypes.c_uint32 * 32)(64)\nmount_id = ctypes.c_int()\n"
        'print(verdict(libc.syscall(303, -100, b"/", handle, ctypes.byref(mount_id), 0)))'
    ),
    # the machine's own state
    "clock_settime": ("ts = (ctypes.c_long * 2)(1, 0)\nprint(verdict(libc.syscall(227, 0, ts)))"),
    "sethostname": 'print(verdict(libc.sethostname(b"pwned", 5)))',
    "syslog_read": "print(verdict(libc.syscall(103, 3, BUFFER, 8)))",
    "acct": 'print(verdict(libc.acct(b"/tmp/acct")))',
    "swapoff": 'print(verdict(libc.swapoff(b"/tmp")))',
    "init_module": "print(sc(175, 0, 0, 0))",
    "kexec_load": "print(sc(246, 0, 0, 0, 0))",
    "iopl": "print(sc(172, 3))",
}
# Outcomes that mean the kernel refused; anything else (allowed, EFAULT, ...) is a finding.
REFUSED = {"EPERM", "ENOSYS", "EAFNOSUPPORT", "EACCES", "EROFS", "ESOCKTNOSUPPORT", "NO_NS_FILE"}


async def attempt(sandbox: Instance, code: str) -> str:
    """The attack's verdict; a step before the syscall that fails (no pidfd_open under
    gVisor, say) counts by its errno."""
    guarded = f"try:\n{textwrap.indent(code, '    ')}\nexcept OSError as exc:\n"
    guarded += "    print(errno.errorcode.get(exc.errno, '?'))\n"
    result = await py(sandbox, PRELUDE + guarded)
    assert result["success"], result
    lines: list[str] = result["text"].split()
    return lines[-1]


@pytest.mark.parametrize("attack", sorted(ATTACKS))
async def test_syscall_refused(sandbox: Instance, attack: str) -> None:
    assert await attempt(sandbox, ATTACKS[attack]) in REFUSED


# Another ABI (i386's int 0x80, x32's numbers) must not reach a call the filter refuses by
# its x86_64 number. The attempt runs in a child, since a filter may kill the caller (SIGSYS).
OTHER_ABI = {
    # mov eax, 288 (i386 keyctl); mov ebx, 0; mov ecx, -4 (user keyring); int 0x80; ret
    "i386_keyctl": "b8 20 01 00 00 bb 00 00 00 00 b9 fc ff ff ff cd 80 c3",
}
CHILD = """
import ctypes, mmap, subprocess, sys
code = sys.argv[1]
if code == "x32":
    libc = ctypes.CDLL(None, use_errno=True)
    result = libc.syscall(ctypes.c_long(0x40000000 | 250), 0, ctypes.c_long(-4), 0)
else:
    page = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(bytes.fromhex(code))
    address = ctypes.addressof(ctypes.c_char.from_buffer(page))
    result = ctypes.CFUNCTYPE(ctypes.c_int32)(address)()
print("allowed" if result >= 0 else "refused", flush=True)
"""


@pytest.mark.parametrize("abi", ["i386_keyctl", "x32_keyctl"])
async def test_other_abi_refused(sandbox: Instance, abi: str) -> None:
    machine = "x32" if abi == "x32_keyctl" else OTHER_ABI[abi]
    code = f"""
import subprocess, sys
argv = [sys.executable, "-c", {CHILD!r}, {machine!r}]
done = subprocess.run(argv, capture_output=True, text=True)
print(done.stdout.strip() or f"killed:{{done.returncode}}")
"""
    result = await py(sandbox, textwrap.dedent(code))
    assert result["success"], result
    assert "allowed" not in result["text"], result["text"]
