"""Freeze one of a daemon's ffprobe runs so the scan it belongs to cannot end until released.

Tests that act on "a scan that is still running" cannot rely on the scan being long: on a fast
or a briefly idle machine it may end before the test gets there. A probe stopped with SIGSTOP
is what a stalled disk looks like to the daemon: the scan stays `running` (its other probe
thread may go on) and cannot complete until the test sends SIGCONT. The daemon's probe timeout
(60 s by default) is far longer than any test holds a probe.
"""

from __future__ import annotations

import os
import signal
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


def _ffprobe_children(parent_pid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields and fields[0] == "ffprobe" and fields[2] == parent_pid and fields[1] != "Z":
            pids.append(int(entry.name))
    return pids


def _stopped_or_gone(pid: int) -> tuple[str, str, int] | None:
    """The process's fields once the SIGSTOP took effect or it ended (zombie or reaped)."""
    fields = _stat_fields(pid)
    if fields is None:
        return ("", "gone", 0)
    return fields if fields[1] in ("T", "t", "Z", "X") else None


def _stop_one_probe(parent_pid: int) -> int | None:
    """SIGSTOP a live ffprobe child of `parent_pid`; its pid once it is seen stopped."""
    for pid in _ffprobe_children(parent_pid):
        # It may have exited between the listing and the signal: only a stopped child holds.
        try:
            os.kill(pid, signal.SIGSTOP)
        except ProcessLookupError:
            continue
        name, state, parent = wait_until(lambda pid=pid: _stopped_or_gone(pid), timeout=5)
        if state in ("T", "t"):
            if name == "ffprobe" and parent == parent_pid:
                return pid
            os.kill(pid, signal.SIGCONT)  # the pid was reused by another process: let it go
    return None


class HeldProbe:
    """One of the daemon's ffprobe runs, stopped until `release()` (or the end of a `with`).

    Creating it waits (up to `timeout`) for the daemon to start a probe it can stop.
    """

    def __init__(self, daemon_pid: int, timeout: float = 30.0) -> None:
        self.pid: int = wait_until(
            lambda: _stop_one_probe(daemon_pid),
            timeout=timeout,
            interval=0.005,
            message="the daemon never ran an ffprobe that could be held",
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
