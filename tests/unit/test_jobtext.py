"""One table each pins how durations, times and progress read in every client.

The `durations`, `times` and `progress` tables of tests/js/display_vectors.json are checked here
against `vpo.jobtext` and each Python client that shows them (the web page's server render, the
CLI, `vpo-tui`), and by tests/js/format.test.mjs against the web page's JavaScript.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from vpo.commands.jobs import job_detail_rows, job_outcome_line, jobs_table
from vpo.jobtext import (
    CLI_COUNTS,
    TUI_COUNTS,
    WEB_COUNTS,
    counts_text,
    duration_text,
    is_terminal,
    progress_text,
    short_time_text,
    time_text,
)
from vpo.server import display
from vpo_tui.jobview import COLUMN_KEYS, counts_label, detail_lines, job_cells
from vpo_tui.widgets.job_progress import progress_bar_text

SHARED = json.loads((Path(__file__).parents[1] / "js" / "display_vectors.json").read_text())
DURATIONS = SHARED["durations"]
TIMES = SHARED["times"]
PROGRESS = SHARED["progress"]
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


@pytest.mark.parametrize("case", PROGRESS, ids=[c["name"] for c in PROGRESS])
def test_progress_and_counts_read_by_one_rule_in_each_clients_words(case: dict) -> None:
    job = {"id": "x" * 36, **case["job"]}
    web, cli, tui = case["web"], case["cli"], case["tui"]
    # The web page's first render (format.js is held to the same column).
    assert display.progress(job)["text"] == web["progress"]
    assert display.files(job) == web["files"]
    assert counts_text(job, WEB_COUNTS) == web["files"]
    # `vpo jobs list` (the PROGRESS column) and `vpo jobs show` (the progress row).
    assert progress_text(job) == cli["progress"]
    assert counts_text(job, CLI_COUNTS) == cli["counts"]
    table = jobs_table([job])
    assert list(table.columns[3].cells) == [cli["progress"]]
    shown = dict(job_detail_rows(job)).get("progress", "")
    expected = f"{cli['progress']} ({cli['counts']})" if cli["progress"] else cli["counts"]
    assert shown == (expected if cli["counts"] else cli["progress"])
    # vpo-tui: the list's Prog column and the detail view's bar line.
    cells = dict(zip(COLUMN_KEYS, job_cells(job, target_width=20, now=NOW), strict=True))
    assert cells["progress"] == tui["progress"]
    assert counts_text(job, TUI_COUNTS) == tui["counts"] == counts_label(job)
    bar = progress_bar_text(job, width=10).plain
    assert bar.endswith("  " + tui["counts"])
    overall = f"{tui['progress']:>4} overall" if tui["progress"] else ""
    assert overall in bar


def test_a_job_is_over_when_its_status_is_terminal() -> None:
    over = [is_terminal({"status": s}) for s in ("queued", "running", "completed", "failed")]
    assert over == [False, False, True, True]
    assert is_terminal({"status": "cancelled"}) and not is_terminal({"status": "paused"})
    assert not is_terminal({})
