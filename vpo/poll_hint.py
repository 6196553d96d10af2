"""The daemon's poll-interval hint (`X-Poll-Interval`, docs/design.md §7), one rule for all.

The daemon says how long a client may wait before its next poll: its configured interval while
any job is queued or running, a longer idle interval otherwise. The server (what to send), the
client (reading the header), the CLI's followers and the TUI's poller (what to do with it) share
these functions; `polling.js` implements the same rule and both are checked against the shared
vectors in `tests/polling_vectors.json`. Pure: no I/O.
"""

from __future__ import annotations

HINT_HEADER = "X-Poll-Interval"


def parse_hint(value: str | None) -> int | None:
    """The milliseconds of an `X-Poll-Interval` header, or None when absent or not a whole
    positive number (a garbled hint is ignored, never trusted)."""
    if value is None:
        return None
    text = value.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        return None
    ms = int(text)
    return ms if ms > 0 else None


def hint_to_send(interval_ms: int, idle_interval_ms: int, *, busy: bool) -> int:
    """What the daemon sends: its interval while work is queued or running, else the idle one."""
    return interval_ms if busy else max(idle_interval_ms, interval_ms)


def hinted_interval_ms(
    interval_ms: int, hint_ms: int | None, busy_interval_ms: int, max_interval_ms: int
) -> int:
    """The wait after a successful poll, given the hint of its answer.

    A hint no longer than the daemon's own configured interval (`busy_interval_ms`) means jobs
    are queued or running: the client keeps its own pace, so an interval the user chose (shorter
    or longer) is never overridden while work runs. A longer hint means the daemon is idle: the
    client waits that long, never less than its own interval and never more than the rules'
    maximum interval.
    """
    if hint_ms is None or hint_ms <= busy_interval_ms:
        return interval_ms
    return int(min(max(hint_ms, interval_ms), max_interval_ms))
