"""How job values read on the web pages: the server-side twin of `static/js/format.js`.

The first render of `/jobs` and `/jobs/{id}` is built here; after that the page's JavaScript
formats what the API returns. Both must produce the same text for the same value, or the first
poll would rewrite every cell of an unchanged table. `tests/js/display_vectors.json` holds the
cases both implementations are checked against.

Pure: plain values in, plain strings out.

Paths, error messages and log lines go through `visible`: a name holding a right-to-left override
(U+202E) or zero-width characters shows them as `\\u202e`, `\\u200b`, so it cannot pose as
another extension; the page also isolates them (`unicode-bidi: isolate` in vpo.css).
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import quote

from vpo.jobs import CANCELLED, FAILED, STATUSES
from vpo.jobtext import (
    DASH,
    WEB_COUNTS,
    counts_text,
    duration_text,
    is_terminal,
    percent_value,
    progress_text,
)
from vpo.pathtext import not_utf8_note
from vpo.pathtext import visible as _visible

_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})")


def _js_string(value: Any) -> str:
    """String(value) as JavaScript would print it, for the plain values the API sends."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if value is None:
        return "null"
    return str(value)


def text(value: Any) -> str:
    return DASH if value is None or value == "" else _js_string(value)


def visible(value: Any) -> str:
    """Control and invisible format characters as `\\uNNNN`, undecodable bytes as `\\xNN`
    (see vpo/pathtext.py; format.js has the same rule)."""
    return _visible(value)


def path_text(value: Any) -> str:
    """A path from the API for the page: visible, or a dash when there is none."""
    return text(visible(value) if value is not None else None)


def path_title(job: dict) -> str:
    """The path cell's tooltip: the path and, for a name that is not UTF-8, the note."""
    note = not_utf8_note(job.get("file_path_is_utf8"))
    path = path_text(job.get("file_path"))
    return f"{path} ({note})" if note else path


def timestamp(value: str | None) -> str:
    """ "2026-11-30T06:13:23.123Z" -> "2026-11-30 06:13:23" (UTC, as stored); None -> dash.

    Reads the text itself rather than parsing, exactly as format.js does, so both write the
    same characters; `vpo.jobtext.time_text` gives the same result for every API timestamp.
    """
    if value is None or value == "":
        return DASH
    match = _TIMESTAMP.match(str(value))
    return f"{match.group(1)} {match.group(2)}" if match else str(value)


def duration(seconds: int | float | None) -> str:
    """The one duration rule of `vpo.jobtext` ("3m 05s", "1d 01h"); None -> dash."""
    return duration_text(seconds) or DASH


def progress(job: dict) -> dict:
    """mode "value" (a bar at value%), "indeterminate" (running, total unknown) or "none";
    the text by the one rule of `vpo.jobtext` (a dash where there is nothing to show)."""
    value = percent_value(job.get("progress_percent"))
    text = progress_text(job, unknown=DASH)
    if value is not None:
        return {"mode": "value", "value": value, "text": text}
    if text != DASH:
        return {"mode": "indeterminate", "value": None, "text": text}
    return {"mode": "none", "value": None, "text": text}


def files(job: dict) -> str:
    """ "25 of 100 files"; while the total is unknown, "12 files so far" (`vpo.jobtext`)."""
    return counts_text(job, WEB_COUNTS)


def status_class(status: str | None) -> str:
    return f"badge-{status}" if status in STATUSES else "badge-other"


def job_href(job_id: str) -> str:
    # Same characters left alone as JavaScript's encodeURIComponent.
    return "/jobs/" + quote(str(job_id), safe="-_.!~*'()")


def counts(summary_raw: dict | None) -> str:
    """ "found: 3, scanned: 2" in the server's key order; None -> dash."""
    if not isinstance(summary_raw, dict) or not summary_raw:
        return DASH
    return ", ".join(f"{key}: {_js_string(value)}" for key, value in summary_raw.items())


def list_cells(job: dict) -> dict:
    """The cells of a dashboard row (see `listCells` in format.js)."""
    pr = progress(job)
    return {
        "id_short": text(job.get("id_short")),
        "href": job_href(job.get("id", "")),
        "job_type": text(job.get("job_type")),
        "status": text(job.get("status")),
        "status_class": status_class(job.get("status")),
        "progress_mode": pr["mode"],
        "progress_value": pr["value"],
        "progress_text": pr["text"],
        "file_path": path_text(job.get("file_path")),
        "file_path_title": path_title(job),
        "created": timestamp(job.get("created_at")),
        "duration": duration(job.get("duration_seconds")),
        "cancellable": not is_terminal(job),
        "retryable": is_retryable(job),
    }


# A job that went wrong can be queued again from the pages; a completed one is re-run with a new
# scan (the API would retry it too, the pages do not offer it).
RETRYABLE = (FAILED, CANCELLED)


def is_retryable(job: dict) -> bool:
    return job.get("status") in RETRYABLE


def detail_fields(job: dict) -> dict:
    """Every field of the detail view as text (see `detailFields` in format.js)."""
    pr = progress(job)
    return {
        "id": text(job.get("id")),
        "id_short": text(job.get("id_short")),
        "job_type": text(job.get("job_type")),
        "status": text(job.get("status")),
        "status_class": status_class(job.get("status")),
        "priority": text(job.get("priority")),
        "file_path": path_text(job.get("file_path")),
        "file_path_note": not_utf8_note(job.get("file_path_is_utf8")),
        "created_at": timestamp(job.get("created_at")),
        "started_at": timestamp(job.get("started_at")),
        "completed_at": timestamp(job.get("completed_at")),
        "duration": duration(job.get("duration_seconds")),
        "phase": text(job.get("phase")),
        "progress_mode": pr["mode"],
        "progress_value": pr["value"],
        "progress_text": pr["text"],
        "files": files(job),
        "attempts": text(job.get("attempts")),
        "error_message": visible(job["error_message"]) if job.get("error_message") else "",
        "summary": text(job.get("summary")),
        "counts": counts(job.get("summary_raw")),
        "has_logs": "yes" if job.get("has_logs") else "no",
        "cancellable": not is_terminal(job),
        "retryable": is_retryable(job),
    }


def error_cells(error: dict) -> dict:
    """One entry of the detail page's errors panel (an item of `GET /api/jobs/{id}/errors`)."""
    path = path_text(error.get("path"))
    note = not_utf8_note(error.get("path_is_utf8"))
    return {
        "path": path,
        "path_title": f"{path} ({note})" if note else path,
        "message": visible(error.get("message")),
    }


def errors_text(shown: int, total: int) -> str:
    """The errors panel's count line: "No file errors", "2 file errors", "Showing 50 of 120"."""
    if total == 0:
        return "No file errors"
    noun = "file error" if total == 1 else "file errors"
    if shown < total:
        return f"Showing {shown} of {total} {noun}"
    return f"{total} {noun}"


def count_text(total: int, offset: int, shown: int, has_filters: bool) -> str:
    """The line above the table: "Showing 1\u201350 of 123 jobs" (en dash)."""
    if total == 0:
        return "No jobs match these filters" if has_filters else "No jobs yet"
    if shown == 0:
        return f"No jobs on this page ({total} in total)"
    noun = "job" if total == 1 else "jobs"
    return f"Showing {offset + 1}\u2013{offset + shown} of {total} {noun}"


def page_text(total: int, offset: int, limit: int) -> str:
    """ "Page 2 of 5"."""
    pages = max(1, math.ceil(total / limit))
    return f"Page {offset // limit + 1} of {pages}"


def empty_text(has_filters: bool) -> str:
    """The table's empty row."""
    if has_filters:
        return "No jobs match these filters."
    return "No jobs yet. Start a scan with: vpo scan PATH --async"


def log_range(start: int, end: int) -> str:
    """ "Lines 301\u2013500" for the log lines on the page; "" when there are none."""
    return f"Lines {start + 1}\u2013{end}" if end > start else ""


_LOG_LEVEL = re.compile(r"^\S+\s+(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL)\b")


def log_level(line: str) -> str:
    """The level of a log line ("2026-…Z WARNING message" -> "warning"), for its colour."""
    match = _LOG_LEVEL.match(line)
    if match is None:
        return "info"
    level = match.group(1).lower()
    return {"warn": "warning", "critical": "error"}.get(level, level)
