"""Whether the data dir can take writes: the daemon-wide "disk full" state.

A full disk shows up in several writers at once (the database, job log files, the write that ends
a job), each of which only sees its own failure. They report it here under their own name; the
API reads the combined state to answer `/health` with 503 degraded and POSTs with 507, and the
worker starts no new job while any problem stands. Problems are cleared by whoever proved the
write works again (the worker's room check, or a retried write that landed), so the daemon
recovers by itself when space returns.
"""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

# What a write fails with when there is no room: ENOSPC for a full file system, EDQUOT for a
# user's quota, EFBIG for a file-size limit (ulimit -f).
OUT_OF_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})

# Problem sources, in the order their reasons are reported.
DATABASE = "database"
JOB_LOG = "job log"
JOB_END = "job end"
SOURCES = (DATABASE, JOB_LOG, JOB_END)


class OutOfSpace(Exception):
    """Marker base of errors that mean "no room left to write" (see `is_out_of_space`)."""


# Less free space than this (for the current user) counts as a full disk when explaining a
# failed write; a few pages, so a disk that is nearly but not exactly full is still "full".
NEARLY_FULL_BYTES = 256 * 1024


def no_room_left(path: Path) -> bool:
    """Whether the file system holding `path` is (all but) full right now.

    For errors that do not say why they failed: SQLite reports a full disk met while sizing its
    shared-memory file as a plain "disk I/O error".
    """
    try:
        stats = os.statvfs(path)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < NEARLY_FULL_BYTES


def is_out_of_space(exc: BaseException) -> bool:
    """Is this failure a full disk (or quota), whichever writer raised it?"""
    if isinstance(exc, OutOfSpace):
        return True
    return isinstance(exc, OSError) and exc.errno in OUT_OF_SPACE_ERRNOS


class StorageStatus:
    """Current storage problems by source; thread safe (the worker writes, handlers read)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._problems: dict[str, str] = {}

    def report(self, source: str, reason: str) -> None:
        if source not in SOURCES:
            raise ValueError(f"unknown storage problem source {source!r}")
        with self._lock:
            self._problems[source] = reason

    def clear(self, *sources: str) -> None:
        with self._lock:
            for source in sources:
                self._problems.pop(source, None)

    def problem(self) -> str | None:
        """One sentence naming every standing problem, or None when writes work."""
        with self._lock:
            reasons = [self._problems[source] for source in SOURCES if source in self._problems]
        return "; ".join(reasons) or None

    @property
    def degraded(self) -> bool:
        with self._lock:
            return bool(self._problems)
