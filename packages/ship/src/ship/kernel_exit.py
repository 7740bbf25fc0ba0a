"""Why the kernel process ended, in words: its exit code or signal, and "out of memory" only
when the sandbox's memory cgroup counted an OOM kill while the execution ran."""

import signal
from collections.abc import Sequence
from pathlib import Path

# Where a sandbox sees its own memory cgroup's OOM-kill counter: cgroup v2 (`memory.events`),
# then v1 (`memory.oom_control`, Linux 4.13+); both have an `oom_kill N` line. A container
# sees its own cgroup at these paths; the local driver names a bound file in
# SHIP_MEMORY_EVENTS instead.
CGROUP_COUNTERS = (
    Path("/sys/fs/cgroup/memory.events"),
    Path("/sys/fs/cgroup/memory/memory.oom_control"),
)


def oom_kills(counters: Sequence[Path]) -> int | None:
    """The first readable counter's OOM kills; None when no counter can be read."""
    for path in counters:
        try:
            text = path.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            if name == "oom_kill" and value.strip().isdigit():
                return int(value)
    return None


def how_it_ended(returncode: int | None, oom_before: int | None, oom_after: int | None) -> str:
    """`returncode` as Popen gives it (negative: the signal), for "The python kernel …"."""
    if returncode is None:
        return "died"
    if returncode >= 0:
        return f"exited with code {returncode}"
    number = -returncode
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = "unknown"
    how = f"was killed by signal {number} ({name})"
    counted = oom_before is not None and oom_after is not None and oom_after > oom_before
    if number == signal.SIGKILL and counted:
        how += ": the sandbox ran out of memory (its memory limit)"
    return how
