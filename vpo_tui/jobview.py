"""How a job reads on screen: status words with symbols, progress, durations, table cells.

Pure functions from the API's job dicts to plain strings, so the table's row diffing compares
exactly what the user sees, and the wording is tested without a terminal. Every value from the
daemon passes through `safe_text` (no escape sequences, one line). Unknown statuses and job types
(a newer daemon) are shown as they come, never rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vpo.jobs import CANCELLED, COMPLETED, FAILED, QUEUED, RUNNING
from vpo.jobtext import (
    TUI_COUNTS,
    counts_text,
    duration_text,
    progress_text,
    short_time_text,
    time_text,
)
from vpo.pathtext import not_utf8_note
from vpo_tui.plaintext import safe_text

# A symbol per status so the table reads without colour (NO_COLOR, monochrome terminals).
STATUS_SYMBOLS = {
    QUEUED: "○",
    RUNNING: "▶",
    COMPLETED: "✓",
    FAILED: "✗",
    CANCELLED: "⊘",
}
UNKNOWN_STATUS_SYMBOL = "?"

# Colours only add to the symbol; they are dropped under NO_COLOR.
STATUS_STYLES = {
    QUEUED: "yellow",
    RUNNING: "bold cyan",
    COMPLETED: "green",
    FAILED: "bold red",
    CANCELLED: "magenta",
}


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    sort_field: str | None  # the API's `sort` value, None when the column cannot be sorted


COLUMNS: tuple[Column, ...] = (
    Column("id", "ID", None),
    Column("type", "Type", "job_type"),
    Column("status", "Status", "status"),
    Column("progress", "Prog", None),
    Column("target", "Target", "file_path"),
    Column("created", "Created UTC", "created_at"),
    Column("duration", "Duration", "duration"),
)
COLUMN_KEYS = tuple(column.key for column in COLUMNS)
SORT_FIELDS = tuple(column.sort_field for column in COLUMNS if column.sort_field)
# "Created UTC" sorts as "created": the zone is a note on the column, not part of its name.
SORT_LABELS = {
    column.sort_field: column.label.removesuffix(" UTC") for column in COLUMNS if column.sort_field
}

# Widths of the fixed columns (id, type, status, progress, created, duration) and the cell
# padding DataTable adds on both sides of each column: the target column gets the rest.
FIXED_WIDTHS = {"id": 8, "type": 6, "status": 11, "progress": 4, "created": 11, "duration": 8}
CELL_PADDING = 2
MIN_TARGET_WIDTH = 12
SCROLLBAR_WIDTH = 2


def target_width_for(table_width: int) -> int:
    """Width of the target column so the whole row fits a table `table_width` cells wide."""
    used = sum(FIXED_WIDTHS.values()) + CELL_PADDING * len(COLUMNS) + SCROLLBAR_WIDTH
    return max(MIN_TARGET_WIDTH, table_width - used)


def status_label(status: object) -> str:
    text = safe_text(status) or "unknown"
    return f"{STATUS_SYMBOLS.get(text, UNKNOWN_STATUS_SYMBOL)} {text}"


def status_style(status: object) -> str:
    return STATUS_STYLES.get(safe_text(status), "")


def created_label(value: object, now: datetime) -> str:
    """The list's Created column: UTC time of day for today, month-day and minutes before."""
    return safe_text(short_time_text(value, now))[:11]


def shorten_path(path: str, width: int) -> str:
    """Keep the end of a long path (the file or folder name matters most) behind an ellipsis."""
    if width <= 1:
        return path[:width]
    if len(path) <= width:
        return path
    return "…" + path[-(width - 1) :]


RETRYABLE = ("failed", "cancelled")


def is_retryable(job: dict[str, Any]) -> bool:
    """Whether `R` offers to retry the job: it failed or was cancelled (a completed job can be
    retried through the API and `vpo jobs retry`, but from here that is more often a slip)."""
    return job.get("status") in RETRYABLE


def short_id(job: dict[str, Any]) -> str:
    return safe_text(job.get("id_short") or str(job.get("id", ""))[:8])


def job_cells(job: dict[str, Any], *, target_width: int, now: datetime) -> tuple[str, ...]:
    """The table row of one job, in COLUMNS order, as the exact strings displayed."""
    return (
        short_id(job),
        safe_text(job.get("job_type")),
        status_label(job.get("status")),
        progress_text(job),
        shorten_path(safe_text(job.get("file_path")), target_width),
        created_label(job.get("created_at"), now),
        duration_text(job.get("duration_seconds")),
    )


def target_label(job: dict[str, Any]) -> str:
    """The full target for the detail view, noting a name that is not UTF-8 (the API sends
    it escaped, `\\xNN` per byte, with `file_path_is_utf8` false)."""
    note = not_utf8_note(job.get("file_path_is_utf8"))
    path = safe_text(job.get("file_path"))
    return f"{path} ({note})" if note else path


def counts_label(job: dict[str, Any]) -> str:
    """`N of M files done` (or `N files so far` while the total is unknown), with the phase.

    The count is of files finished; the percent beside it weighs the work done in every phase
    (hashing counts before probing ends), so it is labelled "overall" where both are shown
    (`vpo.jobtext.TUI_COUNTS`).
    """
    text = counts_text(job, TUI_COUNTS)
    phase = safe_text(job.get("phase"))
    return f"{text} · {phase}" if phase else text


def detail_lines(job: dict[str, Any]) -> list[list[tuple[str, str]]]:
    """Every field of the detail view as lines of (label, value) pairs, compact for 80x24.

    The phase and the counts are on the progress line, so they are not repeated here.
    """
    lines = [
        [("ID", safe_text(job.get("id")))],
        [
            ("Status", status_label(job.get("status"))),
            ("Type", safe_text(job.get("job_type"))),
            ("Priority", safe_text(job.get("priority"))),
            ("Attempts", safe_text(job.get("attempts"))),
        ],
        [("Target", target_label(job))],
        [
            ("Created (UTC)", safe_text(time_text(job.get("created_at")))),
            ("Started (UTC)", safe_text(time_text(job.get("started_at"))) or "-"),
        ],
        [
            ("Completed (UTC)", safe_text(time_text(job.get("completed_at"))) or "-"),
            ("Duration", duration_text(job.get("duration_seconds")) or "-"),
        ],
    ]
    if job.get("summary"):
        lines.append([("Summary", safe_text(job.get("summary")))])
    if job.get("error_message"):
        lines.append([("Error", safe_text(job.get("error_message")))])
    return lines
