"""Process identity: which process runs a job, and whether that process is still there.

A running job's row names its owner as `<hostname>:<pid>:<start-epoch>` (the store writes it,
the worker and a foreground `vpo scan` claim with it). At start-up the daemon asks
`owner_is_alive` about every running job's owner, and the store requeues the jobs whose owner
is gone (`JobStore.recover_orphans`).

The one policy: a job is alive only when its owner is a process on this host that still runs
and started when the owner id says. So a job owned by another host name counts as orphaned.
The data dir is local (SQLite does not share over network file systems), so another name means
this machine was renamed or the container re-created, and nobody will ever finish that job:
assuming it alive would leave it `running` forever. A pid that now belongs to a process
started at another time is a reused pid, so its owner is gone too.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Owner:
    """A parsed owner id. The host name may itself hold colons: the last two fields are the
    pid and the start time."""

    host: str
    pid: int
    start: int

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.start}"


def parse_owner(text: str | None) -> Owner | None:
    """The owner named by an owner id, or None when it is empty or not one."""
    if not text:
        return None
    try:
        host, pid_text, start_text = text.rsplit(":", 2)
        return Owner(host, int(pid_text), int(start_text))
    except ValueError:
        return None


def _process_start_epoch(pid: int) -> int | None:
    """Start time of a process in whole epoch seconds (Linux /proc), None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read().decode("ascii", "replace")
        # The command name may hold spaces and parentheses; fields resume after the last ')'.
        start_ticks = int(stat.rsplit(")", 1)[1].split()[19])
        with open("/proc/stat", "rb") as handle:
            for line in handle:
                if line.startswith(b"btime "):
                    boot = int(line.split()[1])
                    break
            else:
                return None
        return boot + start_ticks // os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


# This process's owner, found once per process (a forked child finds its own).
_THIS_PROCESS: Owner | None = None


def process_owner() -> str:
    """This process's owner id, `<hostname>:<pid>:<start-epoch>`, as stored in jobs.owner."""
    global _THIS_PROCESS
    pid = os.getpid()
    if _THIS_PROCESS is None or _THIS_PROCESS.pid != pid:
        start = _process_start_epoch(pid) or int(time.time())
        _THIS_PROCESS = Owner(socket.gethostname(), pid, start)
    return str(_THIS_PROCESS)


def owner_is_alive(owner: str | None) -> bool:
    """Whether the process named by an owner id still runs, by the policy above: this host,
    the pid exists, and it started when the owner id says. An empty or malformed id is not
    alive (nobody can finish its job)."""
    parsed = parse_owner(owner)
    if parsed is None or parsed.host != socket.gethostname():
        return False
    if parsed.pid == os.getpid():
        return owner == process_owner()
    try:
        os.kill(parsed.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    actual_start = _process_start_epoch(parsed.pid)
    return actual_start is None or abs(actual_start - parsed.start) <= 1
