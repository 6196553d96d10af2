"""Job vocabulary: statuses, the `Job` record and its shape in the API (docs/design.md §4, §6).

Pure: no I/O. The store builds `Job` values from rows; the server and the clients turn them into
dicts with `to_list_dict` / `to_detail_dict`, so every consumer agrees on one shape. Statuses and
job types are open strings: a value this version does not know passes through unchanged, so a
newer daemon never crashes an older client.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from vpo.pathtext import escaped_path, is_utf8

QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED = (
    "queued",
    "running",
    "completed",
    "failed",
    "cancelled",
)
STATUSES = (QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED)
TERMINAL = frozenset({COMPLETED, FAILED, CANCELLED})

SCAN = "scan"
# The job types this version creates. Others may be stored (by a newer version sharing the
# database) and pass through; see `GET /api/jobs?type=`.
JOB_TYPES = (SCAN,)

# The keys a scan's summary_raw carries; `summary` is built from them.
SUMMARY_KEYS = ("found", "scanned", "skipped", "added", "removed", "errors", "probe_skipped")


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 UTC with milliseconds and "Z": fixed width, so text order is time order."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_timestamp(text: str) -> datetime:
    """Inverse of `format_timestamp`; accepts any ISO 8601 form, naive values are taken as UTC."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def summary_sentence(summary_raw: dict | None) -> str | None:
    """One human sentence for a summary_raw dict, or None when there is nothing to say.

    Scan summaries get a fixed phrasing; any other dict (a future job type) is listed as
    "key: value" pairs so it is still readable without this version knowing its keys.
    """
    if not summary_raw:
        return None
    if not any(key in summary_raw for key in SUMMARY_KEYS):
        pairs = ", ".join(f"{key}: {value}" for key, value in summary_raw.items())
        return f"{pairs}."

    def count(key: str) -> int:
        value = summary_raw.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    parts = [
        f"{count('scanned')} scanned ({count('added')} new)",
        f"{count('skipped')} unchanged",
        f"{count('removed')} missing",
        _plural(count("errors"), "error"),
    ]
    sentence = f"Found {_plural(count('found'), 'file')}: " + ", ".join(parts) + "."
    if summary_raw.get("probe_skipped"):
        sentence += " Probing was skipped (no prober available)."
    return sentence


def duration_between(
    started_at: str | None, completed_at: str | None, now: datetime | None
) -> int | None:
    """Whole seconds from started_at to completed_at (or to `now`, default the current time,
    while unfinished); None when the job never started.

    Floored so the value changes at most once a second, which keeps ETags stable between
    polls; never negative, even if clocks disagree.
    """
    if not started_at:
        return None
    start = parse_timestamp(started_at)
    if completed_at:
        end = parse_timestamp(completed_at)
    elif now is None:
        end = utc_now()
    else:
        end = now if now.tzinfo else now.replace(tzinfo=UTC)
    elapsed = (end - start) / timedelta(seconds=1)
    return max(0, math.floor(elapsed))


def list_dict(job: Job | JobListItem, now: datetime | None) -> dict:
    """The §6 list item: what `GET /api/jobs` returns per job (one shape for both types)."""
    return {
        "id": job.id,
        "id_short": job.id[:8],
        "job_type": job.job_type,
        "status": job.status,
        "priority": job.priority,
        # The escaped form (vpo/pathtext.py): a target that is not UTF-8 cannot be JSON text.
        "file_path": escaped_path(job.file_path),
        "file_path_is_utf8": is_utf8(job.file_path),
        "created_at": job.created_at,
        "started_at": job.started_at,
        "completed_at": job.completed_at,
        "progress_percent": job.progress_percent,
        "phase": job.phase,
        "processed_count": job.processed_count,
        "total_count": job.total_count,
        "duration_seconds": duration_between(job.started_at, job.completed_at, now),
        "error_message": job.error_message,
        "attempts": job.attempts,
    }


class JobListItem(NamedTuple):
    """A job as a list page shows it: the list fields only, in `LIST_COLUMNS` order.

    What the store reads for `GET /api/jobs` and the jobs page: a tuple straight from the row,
    without the params and summary JSON (and the bookkeeping columns) a list never shows.
    """

    id: str
    job_type: str
    status: str
    priority: int
    file_path: str
    created_at: str
    started_at: str | None
    completed_at: str | None
    progress_percent: float | None
    phase: str | None
    processed_count: int
    total_count: int | None
    error_message: str | None
    attempts: int

    @property
    def id_short(self) -> str:
        return self.id[:8]

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    def duration_seconds(self, now: datetime | None = None) -> int | None:
        return duration_between(self.started_at, self.completed_at, now)

    def to_list_dict(self, now: datetime | None = None) -> dict:
        return list_dict(self, now)


LIST_COLUMNS = JobListItem._fields


@dataclass(frozen=True)
class Job:
    """One job row. Timestamps are ISO 8601 UTC strings ("...Z") exactly as stored."""

    id: str
    job_type: str
    status: str
    priority: int
    file_path: str
    created_at: str
    started_at: str | None
    completed_at: str | None
    progress_percent: float | None
    phase: str | None
    processed_count: int
    total_count: int | None
    error_message: str | None
    summary_raw: dict | None
    attempts: int
    params: dict = field(default_factory=dict)
    cancel_requested: bool = False
    version: int = 1
    owner: str | None = None
    updated_at: str | None = None
    retry_of: str | None = None  # the job this one repeats (POST /api/jobs/{id}/retry)

    @property
    def id_short(self) -> str:
        return self.id[:8]

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def summary(self) -> str | None:
        return summary_sentence(self.summary_raw)

    def duration_seconds(self, now: datetime | None = None) -> int | None:
        """See `duration_between`."""
        return duration_between(self.started_at, self.completed_at, now)

    def to_list_dict(self, now: datetime | None = None) -> dict:
        """The §6 list item: what `GET /api/jobs` returns per job."""
        return list_dict(self, now)

    def to_detail_dict(self, now: datetime | None, has_logs: bool, *, errors_count: int) -> dict:
        """The §6 detail: list fields plus summary, summary_raw, has_logs, errors_count (the
        per-file errors recorded so far, counted by the store) and retry_of."""
        detail = self.to_list_dict(now)
        detail["summary"] = self.summary
        detail["summary_raw"] = dict(self.summary_raw) if self.summary_raw is not None else None
        detail["has_logs"] = has_logs
        detail["errors_count"] = errors_count
        detail["retry_of"] = self.retry_of
        return detail


@dataclass(frozen=True)
class JobQuery:
    """A validated list request (built by vpo/server/query.py, run by the store).

    It lives here, apart from the store, so the query parsing stays free of sqlite3.
    """

    status: str | None = None
    job_type: str | None = None
    since: datetime | None = None
    search: str | None = None
    id_prefix: str | None = None
    sort: str = "created_at"
    order: str = "desc"
    limit: int = 50
    offset: int = 0
