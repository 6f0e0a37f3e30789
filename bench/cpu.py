"""CPU seconds spent by this process and the servers it started (its descendants), by server:
a figure that a busy machine does not distort the way wall time is distorted. Used by the benches
as ``with cpu.spent() as used: ...; used["ferretdb"]`` (Linux /proc)."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

_TICK = os.sysconf("SC_CLK_TCK")
# a descendant's command line -> the name it is counted under (first match wins)
_NAMES = (("ferretdb", "ferretdb"), ("postgres", "postgresql"), ("java", "kafka"))


def _by_server(root: int) -> Counter[str]:
    parents: dict[int, int] = {}
    seconds: dict[int, tuple[str, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                command = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        pid = int(entry)
        parents[pid] = int(fields[1])
        seconds[pid] = (command, (int(fields[11]) + int(fields[12])) / _TICK)  # utime + stime
    out: Counter[str] = Counter()
    for pid, (command, used) in seconds.items():
        ancestor = parents.get(pid, 0)
        while ancestor > 1 and ancestor != root:
            ancestor = parents.get(ancestor, 0)
        if ancestor != root:
            continue
        out[next((name for needle, name in _NAMES if needle in command), "other")] += used
    out["python"] = time.process_time()
    return out


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


@contextmanager
def spent(root: int | None = None) -> Iterator[Counter[str]]:
    """CPU seconds used inside the block, by "python" (this process: services served in-process),
    "ferretdb", "postgresql", "kafka" and "other" (servers this process started, or `root` did:
    a bench process run under `alliance_localinfra exec` counts the servers it started)."""
    used: Counter[str] = Counter()
    before = _by_server(root or os.getpid())
    try:
        yield used
    finally:
        after = _by_server(root or os.getpid())
        for name in after.keys() | before.keys():
            used[name] = max(0.0, after[name] - before[name])
