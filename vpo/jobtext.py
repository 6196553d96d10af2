"""How a job reads, in every client: the web page, `vpo-tui` and the `vpo` CLI.

One rule, so a job reads the same wherever it is watched (and `static/js/format.js`, the web
page's twin of these functions, is pinned to the same tables, `tests/js/display_vectors.json`):

- Durations: whole seconds, the two largest units, spaced: `45s`, `3m 05s`, `2h 03m`, `1d 01h`.
  At most 7 characters up to 99 days, so they fit a fixed table column.
- Times: UTC, as the daemon stores them and as every job log line is stamped, so a time on
  screen can be matched with a log line without arithmetic: `2026-11-30 06:13:23`. Screens
  label them "UTC" once (a column header, a field name). A list column may use the short form:
  the time of day for today (UTC), else month-day and minutes.
- Progress: the whole percent, floored and clamped to 0-100 (99.9 never reads 100% before the
  job is done): `41%`; `…` while a running job has no percent yet.
- File counts: `25 of 100 files`, or `12 files so far` while the total is not known. The
  clients word them differently on purpose (`vpo-tui` says `files done` beside its `% overall`,
  because the percent weighs every phase and the count only finished files); those differences
  are the fields of `CountsWording`, one constant per client below, while the choice of case is
  the one rule of `counts_text`.
- Terminal: a job is over when its status is in `vpo.jobs.TERMINAL` (`is_terminal`).

Pure: no I/O, no clock of its own (callers pass "now").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from vpo.jobs import RUNNING, TERMINAL

ELLIPSIS = "\u2026"
DASH = "\u2014"


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


def is_terminal(job: Mapping[str, Any]) -> bool:
    """Whether a job (an API dict) has ended: completed, failed or cancelled."""
    return job.get("status") in TERMINAL


def percent_value(value: object) -> int | None:
    """A job's `progress_percent` as the whole percent shown: floored, clamped to 0-100; None
    when unknown (absent, or not a finite number)."""
    if not _is_number(value):
        return None
    return math.floor(min(100.0, max(0.0, float(value))))  # type: ignore[arg-type]


def progress_text(job: Mapping[str, Any], *, unknown: str = "") -> str:
    """`41%`; `…` while running with no percent yet; `unknown` otherwise (the web: a dash)."""
    percent = percent_value(job.get("progress_percent"))
    if percent is not None:
        return f"{percent}%"
    if job.get("status") == RUNNING:
        return ELLIPSIS
    return unknown


@dataclass(frozen=True)
class CountsWording:
    """How one client words a job's file counts (`{done}`, `{total}` are filled in).

    `zero_count`: when a job with no total and no file done yet still shows `so_far`/`ended`
    ("always"), only while it runs ("running"), or never ("never": then it shows `nothing`).
    """

    of_total: str = "{done} of {total} files"
    so_far: str = "{done} files so far"
    ended: str = "{done} files so far"  # a job that ended before its total was known
    nothing: str = ""
    zero_count: Literal["always", "running", "never"] = "running"


# The web pages (display.py, format.js): a dash where there is nothing to count.
WEB_COUNTS = CountsWording(nothing=DASH)
# `vpo jobs show`: nothing at all until a file is counted.
CLI_COUNTS = CountsWording(zero_count="never")
# `vpo-tui`: beside "NN% overall", the count says it is of files done.
TUI_COUNTS = CountsWording(
    of_total="{done} of {total} files done",
    so_far="{done} files so far, total not known yet",
    ended="{done} files",
    zero_count="always",
)


def _count(value: object) -> int | None:
    if isinstance(value, bool) or not _is_number(value):
        return None
    return int(value) if float(value).is_integer() else None  # type: ignore[arg-type]


def counts_text(job: Mapping[str, Any], wording: CountsWording) -> str:
    """The job's file counts (`processed_count` of `total_count`) in a client's `wording`."""
    done = _count(job.get("processed_count")) or 0
    total = _count(job.get("total_count"))
    if total is not None:
        return wording.of_total.format(done=done, total=total)
    if done == 0 and not (
        wording.zero_count == "always"
        or (wording.zero_count == "running" and job.get("status") == RUNNING)
    ):
        return wording.nothing
    return (wording.ended if is_terminal(job) else wording.so_far).format(done=done)
