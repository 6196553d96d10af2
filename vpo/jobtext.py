"""How times and durations read, in every client: the web page, `vpo-tui` and the `vpo` CLI.

One rule, so a job reads the same wherever it is watched (and `static/js/format.js`, the web
page's twin of these functions, is pinned to the same table, `tests/js/display_vectors.json`):

- Durations: whole seconds, the two largest units, spaced: `45s`, `3m 05s`, `2h 03m`, `1d 01h`.
  At most 7 characters up to 99 days, so they fit a fixed table column.
- Times: UTC, as the daemon stores them and as every job log line is stamped, so a time on
  screen can be matched with a log line without arithmetic: `2026-11-30 06:13:23`. Screens
  label them "UTC" once (a column header, a field name). A list column may use the short form:
  the time of day for today (UTC), else month-day and minutes.

Pure: no I/O, no clock of its own (callers pass "now").
"""

from __future__ import annotations

import math
from datetime import UTC, datetime


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def duration_text(seconds: object) -> str:
    """`45s`, `3m 05s`, `2h 03m`, `1d 01h`; negative counts as 0; "" when unknown."""
    if not _is_number(seconds):
        return ""
    total = max(0, math.floor(seconds))  # type: ignore[arg-type]
    if total < 60:
        return f"{total}s"
    if total < 3600:
        return f"{total // 60}m {total % 60:02d}s"
    if total < 86400:
        return f"{total // 3600}h {(total % 3600) // 60:02d}m"
    return f"{total // 86400}d {(total % 86400) // 3600:02d}h"


def parse_utc(value: object) -> datetime | None:
    """An API timestamp ("...Z" or any ISO 8601) as an aware UTC datetime; None if unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def time_text(value: object, *, seconds: bool = True) -> str:
    """`2026-11-30 06:13:23` (UTC); minutes only with `seconds=False`; unreadable text as is."""
    moment = parse_utc(value)
    if moment is None:
        return "" if value is None else str(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def short_time_text(value: object, now: datetime) -> str:
    """For a list column: `06:13:23` when `value` is today (UTC), else `11-30 06:13`."""
    moment = parse_utc(value)
    if moment is None:
        return "" if value is None else str(value)
    today = now.astimezone(UTC).date() if now.tzinfo else now.date()
    if moment.date() == today:
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%m-%d %H:%M")
