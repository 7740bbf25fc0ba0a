"""The syscall filter of every sandbox, stated once: a BPF program for bubblewrap (through
Debian's libseccomp) and the same denials as a Docker seccomp profile.

Everything is allowed but what is listed here. The list holds every call Docker's default
profile refuses to an unprivileged container, plus kernel surface no sandbox needs: keyrings,
io_uring, userfaultfd, bpf, perf events, the new mount API, `pidfd_getfd`, NUMA policy, memory
protection keys, and every socket family but Unix, IPv4, IPv6 and netlink (no AF_VSOCK to the
hypervisor, no AF_ALG into the kernel's crypto). `clone` may not make namespaces and `clone3`
answers ENOSYS, so libc falls back to `clone`, whose flags the filter can see.
"""

import ctypes
import ctypes.util
import errno
import itertools
import os
import platform
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bay.drivers.base import DriverUnavailableError

# Refused with EPERM, as Docker's default profile does.
DENIED = (
    # kernel keyrings: per-uid state shared between sandboxes of one host uid
    *("add_key", "keyctl", "request_key"),
    # debugging and reading other processes: pid 1 of the sandbox holds Bay's pipes
    *("ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp"),
    # large kernel attack surface no sandbox needs
    *("bpf", "perf_event_open", "userfaultfd", "lookup_dcookie", "fanotify_init"),
    # namespaces, mounts and file handles
    *("unshare", "setns", "mount", "umount", "umount2", "pivot_root", "chroot"),
    *("open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr"),
    *("name_to_handle_at", "open_by_handle_at", "quotactl", "quotactl_fd"),
    # NUMA placement and memory protection keys
    *("mbind", "set_mempolicy", "get_mempolicy", "move_pages", "migrate_pages"),
    *("set_mempolicy_home_node", "pkey_alloc", "pkey_free", "pkey_mprotect", "memfd_secret"),
    # the machine's own state: modules, clock, reboot, swap, accounting, hostname
    *("init_module", "finit_module", "delete_module", "create_module", "query_module"),
    *("get_kernel_syms", "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff"),
    *("settimeofday", "stime", "clock_settime", "clock_adjtime", "acct", "syslog"),
    *("sethostname", "setdomainname", "vhangup", "iopl", "ioperm", "nfsservctl"),
    *("uselib", "ustat", "sysfs", "_sysctl", "vm86", "vm86old", "process_madvise"),
)
# Refused with ENOSYS, so programs fall back as they do on older kernels (libuv, glibc).
MISSING = ("io_uring_setup", "io_uring_enter", "io_uring_register", "clone3")

ALLOWED_FAMILIES = (1, 2, 10, 16)  # AF_UNIX, AF_INET, AF_INET6, AF_NETLINK
AF_MAX = 46  # families at or above it do not exist yet; refused all the same
ALLOWED_PERSONAS = (0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)  # as Docker: Linux, linux32, query
CLONE_NAMESPACES = (0x20000, 0x2000000, 0x4000000, 0x8000000, 0x10000000, 0x20000000, 0x40000000)

_EQ, _GE, _MASKED_EQ, _GT = 4, 5, 7, 6  # enum scmp_compare
_DOCKER_OPS = {_EQ: "SCMP_CMP_EQ", _GE: "SCMP_CMP_GE", _MASKED_EQ: "SCMP_CMP_MASKED_EQ"}
_DOCKER_OPS[_GT] = "SCMP_CMP_GT"
_DOCKER_ARCHES = {
    "x86_64": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "aarch64": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
}


@dataclass(frozen=True)
class Compare:
    """One test of a syscall argument: `arg OP value` (`arg & value == mask` for MASKED_EQ)."""

    arg: int
    op: int
    value: int
    mask: int = 0


@dataclass(frozen=True)
class Rule:
    """Refuse `syscall` with `errno` when every comparison holds (always, when none)."""

    syscall: str
    errno: int
    where: tuple[Compare, ...] = ()


def rules() -> Iterator[Rule]:
    """The whole policy, in the order it is checked."""
    for name in DENIED:
        yield Rule(name, errno.EPERM)
    for name in MISSING:
        yield Rule(name, errno.ENOSYS)
    for family in range(AF_MAX):
        if family not in ALLOWED_FAMILIES:
            for call in ("socket", "socketpair"):
                yield Rule(call, errno.EAFNOSUPPORT, (Compare(0, _EQ, family),))
    for call in ("socket", "socketpair"):
        yield Rule(call, errno.EAFNOSUPPORT, (Compare(0, _GE, AF_MAX),))
    for flag in CLONE_NAMESPACES:
        yield Rule("clone", errno.EPERM, (Compare(0, _MASKED_EQ, flag, flag),))
    for low, high in itertools.pairwise(ALLOWED_PERSONAS):
        for start, mask in _blocks(low + 1, high):
            yield Rule("personality", errno.EPERM, (Compare(0, _MASKED_EQ, start, mask),))
    yield Rule("personality", errno.EPERM, (Compare(0, _GT, ALLOWED_PERSONAS[-1]),))


def _blocks(start: int, end: int) -> Iterator[tuple[int, int]]:
    """[start, end) as aligned power-of-two blocks, each `arg & mask == block start`: one
    comparison per argument is all libseccomp takes, so a range becomes several rules."""
    while start < end:
        size = start & -start if start else 1 << 63
        while start + size > end:
            size //= 2
        yield start, ~(size - 1) & 0xFFFFFFFFFFFFFFFF
        start += size


def docker_profile(gvisor: bool = False) -> dict[str, Any]:
    """The policy as a Docker seccomp profile (it replaces Docker's default, which it covers).

    runsc applies it inside gVisor when registered with `--oci-seccomp`. gVisor has no clone3
    of its own, and glibc's fallback to clone fails when its filter answers clone3 instead.
    """
    entries: list[dict[str, Any]] = []
    for rule in rules():
        if gvisor and rule.syscall == "clone3":
            continue
        entry: dict[str, Any] = {
            "names": [rule.syscall],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": rule.errno,
        }
        if rule.where:
            entry["args"] = [_docker_arg(compare) for compare in rule.where]
        entries.append(entry)
    arches = _DOCKER_ARCHES.get(platform.machine(), [])
    return {"defaultAction": "SCMP_ACT_ALLOW", "architectures": arches, "syscalls": entries}


def _docker_arg(compare: Compare) -> dict[str, Any]:
    value, second = (
        (compare.mask, compare.value) if compare.op == _MASKED_EQ else (compare.value, 0)
    )
    return {"index": compare.arg, "value": value, "valueTwo": second, "op": _DOCKER_OPS[compare.op]}


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


_ACT_ALLOW = 0x7FFF0000
_ACT_ERRNO = 0x00050000


def bpf() -> bytes:
    """The policy compiled by libseccomp for this machine's architecture; other ABIs (i386,
    x32 on x86_64) are killed, so no syscall reaches the kernel by another number."""
    lib = _libseccomp()
    ctx = lib.seccomp_init(_ACT_ALLOW)
    if not ctx:
        raise DriverUnavailableError("libseccomp could not make a filter")
    try:
        for rule in rules():
            _add(lib, ctx, rule)
        return _export(lib, ctx)
    finally:
        lib.seccomp_release(ctx)


def _add(lib: ctypes.CDLL, ctx: int, rule: Rule) -> None:
    number = lib.seccomp_syscall_resolve_name(rule.syscall.encode())
    if number < 0:
        return  # not a syscall on this architecture (vm86 on x86_64, say): nothing to refuse
    compares = (_ArgCmp * max(1, len(rule.where)))()
    for slot, compare in zip(compares, rule.where, strict=False):
        a, b = (compare.mask, compare.value) if compare.op == _MASKED_EQ else (compare.value, 0)
        slot.arg, slot.op, slot.datum_a, slot.datum_b = compare.arg, compare.op, a, b
    action = _ACT_ERRNO | rule.errno
    code = lib.seccomp_rule_add_exact_array(ctx, action, number, len(rule.where), compares)
    if code < 0:
        raise DriverUnavailableError(f"libseccomp refused the rule {rule}: {os.strerror(-code)}")


def _export(lib: ctypes.CDLL, ctx: int) -> bytes:
    fd = os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC)
    try:
        code = lib.seccomp_export_bpf(ctx, fd)
        if code < 0:
            raise DriverUnavailableError(f"libseccomp could not export: {os.strerror(-code)}")
        return os.pread(fd, os.lseek(fd, 0, os.SEEK_END), 0)
    finally:
        os.close(fd)


def _libseccomp() -> ctypes.CDLL:
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError as exc:
        raise DriverUnavailableError(
            f"libseccomp not found ({exc}): apt-get install libseccomp2"
        ) from exc
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_exact_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(_ArgCmp),
    ]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return lib
