"""Freeze one of a daemon's probes so the scan it belongs to cannot end until released.

Tests that act on "a scan that is still running" cannot rely on the scan being long: on a fast
or a briefly idle machine it may end before the test gets there. A probe stopped with SIGSTOP
is what a stalled disk looks like to the daemon: the scan stays `running` (its other probes
may go on) and cannot complete until the test sends SIGCONT. The daemon's probe timeout (60 s by
default) is far longer than any test holds a probe.

A probe is either an ffprobe child (the fallback prober: a live one is always on a file) or one
of the scan's PyAV worker processes (`vpo/probe_worker.py`). A worker lives for the whole scan,
so a stopped worker holds the scan only if a file is waiting for its answer: it has a file open
(it is on one), or a request sits unread in its input pipe. A worker stopped while idle with no
request is let go and another moment is tried.
"""

from __future__ import annotations

import fcntl
import os
import signal
import struct
import termios
import time
from contextlib import suppress
from pathlib import Path

from tests.support.daemon import wait_until


def _stat_fields(pid: int) -> tuple[str, str, int] | None:
    """(name, state, parent pid) of a process, or None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = stat[stat.index("(") + 1 : stat.rindex(")")]
    state, parent = stat[stat.rindex(")") + 2 :].split()[:2]
    return name, state, int(parent)


WORKER_MODULE = b"vpo.probe_worker"


def is_probe_worker(pid: int) -> bool:
    try:
        return WORKER_MODULE in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False


def probe_children(parent_pid: int) -> list[tuple[int, str]]:
    """(pid, "ffprobe" | "worker") of the live probes `parent_pid` runs."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        fields = _stat_fields(pid)
        if not fields or fields[2] != parent_pid or fields[1] == "Z":
            continue
        if fields[0] == "ffprobe":
            found.append((pid, "ffprobe"))
        elif is_probe_worker(pid):
            found.append((pid, "worker"))
    return found


def _pending_request_bytes(pid: int) -> int:
    """Bytes sent to a worker that it has not read yet (FIONREAD on its stdin pipe, opened
    through /proc; nothing is read from it)."""
    try:
        fd = os.open(f"/proc/{pid}/fd/0", os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return 0
    try:
        raw = fcntl.ioctl(fd, termios.FIONREAD, struct.pack("i", 0))
        return struct.unpack("i", raw)[0]
    except OSError:
        return 0
    finally:
        os.close(fd)


def _has_a_file_open(pid: int) -> bool:
    """Whether the worker is on a file: a regular file is open (the media file it probes)."""
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        with suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("/") and not target.startswith("/dev/"):
                return True
    return False


def _worker_owes_an_answer(pid: int, patience: float = 0.2) -> bool:
    """Whether a stopped worker holds a file: on one, or with a request waiting. The daemon
    writes the next request right after reading an answer, so it is given a moment to."""
    deadline = time.monotonic() + patience
    while True:
        if _has_a_file_open(pid) or _pending_request_bytes(pid) > 0:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)


def _stopped_or_gone(pid: int) -> tuple[str, str, int] | None:
    """The process's fields once the SIGSTOP took effect or it ended (zombie or reaped)."""
    fields = _stat_fields(pid)
    if fields is None:
        return ("", "gone", 0)
    return fields if fields[1] in ("T", "t", "Z", "X") else None


def _stop_one_probe(parent_pid: int) -> int | None:
    """SIGSTOP a live probe of `parent_pid` that holds a file; its pid once it is seen stopped."""
    for pid, kind in probe_children(parent_pid):
        # It may have exited between the listing and the signal: only a stopped child holds.
        try:
            os.kill(pid, signal.SIGSTOP)
        except ProcessLookupError:
            continue
        name, state, parent = wait_until(lambda pid=pid: _stopped_or_gone(pid), timeout=5)
        if state in ("T", "t"):
            same = parent == parent_pid and (
                name == "ffprobe" if kind == "ffprobe" else is_probe_worker(pid)
            )
            if same and (kind == "ffprobe" or _worker_owes_an_answer(pid)):
                return pid
            # The pid was reused by another process, or an idle worker: let it go.
            os.kill(pid, signal.SIGCONT)
    return None


class HeldProbe:
    """One of the daemon's probes, stopped until `release()` (or the end of a `with`).

    Creating it waits (up to `timeout`) for the daemon to start a probe it can stop.
    """

    def __init__(self, daemon_pid: int, timeout: float = 30.0) -> None:
        self.pid: int = wait_until(
            lambda: _stop_one_probe(daemon_pid),
            timeout=timeout,
            interval=0.005,
            message="the daemon never ran a probe that could be held",
        )
        self.released = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            with suppress(ProcessLookupError):  # the daemon may have killed it (cancel, stop)
                os.kill(self.pid, signal.SIGCONT)

    def __enter__(self) -> HeldProbe:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()
