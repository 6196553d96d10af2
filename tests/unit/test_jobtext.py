"""One table pins how durations and times read in every client.

The `durations` and `times` tables of tests/js/display_vectors.json are checked here against
`vpo.jobtext` and each Python client that shows them (the web page's server render, the CLI,
`vpo-tui`), and by tests/js/format.test.mjs against the web page's JavaScript.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from vpo.commands.jobs import job_detail_rows, job_outcome_line
from vpo.jobtext import duration_text, short_time_text, time_text
from vpo.server import display
from vpo_tui.jobview import COLUMN_KEYS, detail_lines, job_cells

SHARED = json.loads((Path(__file__).parents[1] / "js" / "display_vectors.json").read_text())
DURATIONS = SHARED["durations"]
TIMES = SHARED["times"]
NOW = datetime.fromisoformat("2026-11-30T12:00:00+00:00")


@pytest.mark.parametrize("case", DURATIONS, ids=[str(c["seconds"]) for c in DURATIONS])
def test_durations_read_the_same_everywhere(case: dict) -> None:
    seconds, text = case["seconds"], case["text"]
    assert duration_text(seconds) == text
    assert display.duration(seconds) == (text or display.DASH)  # the web page
    job = {"id": "x" * 36, "status": "completed", "duration_seconds": seconds}
    cells = dict(zip(COLUMN_KEYS, job_cells(job, target_width=20, now=NOW), strict=True))
    assert cells["duration"] == text  # vpo-tui's list
    fields = {label: value for line in detail_lines(job) for label, value in line}
    assert fields["Duration"] == (text or "-")  # vpo-tui's detail
    rows = dict(job_detail_rows(job))  # vpo jobs show
    assert rows.get("duration", "") == text
    outcome = job_outcome_line(job)  # vpo jobs wait
    assert outcome.endswith(f" after {text}") if text else "after" not in outcome


def test_durations_fit_the_terminal_column() -> None:
    assert max(len(duration_text(case["seconds"])) for case in DURATIONS) <= 8


@pytest.mark.parametrize("case", TIMES, ids=[c["value"] for c in TIMES])
def test_times_read_the_same_everywhere_in_utc(case: dict) -> None:
    value = case["value"]
    assert time_text(value) == case["text"]
    assert time_text(value, seconds=False) == case["minutes"]
    assert display.timestamp(value) == case["text"]  # the web page
    now = datetime.fromisoformat(case["now"].replace("Z", "+00:00"))
    assert short_time_text(value, now) == case["short"]
    job = {"id": "x" * 36, "status": "queued", "created_at": value}
    cells = dict(zip(COLUMN_KEYS, job_cells(job, target_width=20, now=now), strict=True))
    assert cells["created"] == case["short"]  # vpo-tui's list
    fields = {label: value for line in detail_lines(job) for label, value in line}
    assert fields["Created (UTC)"] == case["text"]  # vpo-tui's detail
    assert dict(job_detail_rows(job))["created (UTC)"] == case["text"]  # vpo jobs show


def test_unreadable_times_pass_through() -> None:
    assert time_text("soon") == "soon"
    assert time_text(None) == ""
