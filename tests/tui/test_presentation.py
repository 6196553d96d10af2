"""Pure presentation: status words, progress, durations, the filter bar, the status line,
the progress bar, and the command-line options (no daemon needed)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vpo.jobtext import progress_text
from vpo_tui.jobview import (
    counts_label,
    created_label,
    detail_lines,
    job_cells,
    shorten_path,
    status_label,
    target_width_for,
)
from vpo_tui.keys import KeyBinding, help_rows
from vpo_tui.listquery import PAGE_SIZE, ListQuery
from vpo_tui.options import parse_options
from vpo_tui.screens.detail import LOG_KEYS, DetailScreen
from vpo_tui.screens.jobs import TABLE_KEYS, JobsScreen
from vpo_tui.widgets.job_progress import progress_bar_text
from vpo_tui.widgets.status_line import StatusFacts, describe_status

NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)


def test_status_words_have_symbols_and_unknown_ones_pass_through():
    assert status_label("running") == "▶ running"
    assert status_label("completed") == "✓ completed"
    assert status_label("failed") == "✗ failed"
    assert status_label("cancelled") == "⊘ cancelled"
    assert status_label("queued") == "○ queued"
    assert status_label("paused-by-newer-daemon") == "? paused-by-newer-daemon"
    assert status_label(None) == "? unknown"


def test_progress_and_counts():
    assert progress_text({"status": "running", "progress_percent": 41.7}) == "41%"
    assert progress_text({"status": "running", "progress_percent": None}) == "…"
    assert progress_text({"status": "queued", "progress_percent": None}) == ""
    job = {"processed_count": 25, "total_count": 100, "phase": "probe"}
    assert counts_label(job) == "25 of 100 files done · probe"
    unknown = {"processed_count": 7, "total_count": None, "phase": "discover"}
    assert counts_label(unknown) == "7 files so far, total not known yet · discover"
    assert counts_label({**unknown, "status": "failed"}) == "7 files · discover"


def test_progress_bar_known_and_indeterminate():
    bar = progress_bar_text(
        {"status": "running", "progress_percent": 50, "processed_count": 5, "total_count": 10},
        width=10,
    ).plain
    assert bar.startswith("█████░░░░░  50% overall")
    assert "5 of 10 files" in bar
    waiting = progress_bar_text(
        {"status": "running", "progress_percent": None, "processed_count": 3}, width=10
    ).plain
    assert waiting.startswith("▚" * 10)
    assert "total not known yet" in waiting


def test_paths_and_times():
    # Durations: tests/unit/test_jobtext.py, one table for every client.
    assert shorten_path("/srv/media/tv/Show", 10) == "…a/tv/Show"
    assert len(shorten_path("/a/very/long/path/name", 8)) == 8
    assert shorten_path("/short", 20) == "/short"
    assert created_label("2026-11-30T11:59:00.000Z", NOW) == "11:59:00"
    assert created_label("2026-11-02T08:00:00.000Z", NOW) == "11-02 08:00"
    assert created_label("not a time", NOW) == "not a time"
    assert target_width_for(80) >= 12 and target_width_for(160) == target_width_for(80) + 80


def test_job_cells_strip_escapes_and_keep_brackets():
    job = {
        "id": "0123456789ab",
        "job_type": "scan",
        "status": "running",
        "file_path": "/x/[bold]red\x1b[31m",
        "created_at": "2026-11-30T11:00:00Z",
        "progress_percent": 10,
        "duration_seconds": 5,
    }
    cells = job_cells(job, target_width=40, now=NOW)
    assert cells == ("01234567", "scan", "▶ running", "10%", "/x/[bold]red", "11:00:00", "5s")


def test_invisible_characters_in_paths_are_shown_escaped():
    job = {
        "id": "0123456789ab",
        "status": "completed",
        # U+202E would make the name read "holidayvkm.png"; U+200B and U+2066 are invisible.
        "file_path": "/x/holiday\u202egnp.mkv\u200b\u2066",
        "file_path_is_utf8": True,
    }
    cells = job_cells(job, target_width=60, now=NOW)
    assert cells[4] == "/x/holiday\\u202egnp.mkv\\u200b\\u2066"
    target = dict(pair for line in detail_lines(job) for pair in line)["Target"]
    assert target == "/x/holiday\\u202egnp.mkv\\u200b\\u2066"


def test_a_target_that_is_not_utf8_is_shown_escaped_with_a_note():
    job = {"id": "0123456789ab", "file_path": "/lib/Am\\xe9lie", "file_path_is_utf8": False}
    assert job_cells(job, target_width=60, now=NOW)[4] == "/lib/Am\\xe9lie"
    target = dict(pair for line in detail_lines(job) for pair in line)["Target"]
    assert target == "/lib/Am\\xe9lie (not UTF-8: bytes shown as \\xNN)"


def test_list_query_cycles_and_paging():
    query = ListQuery()
    assert query.api_params()["sort"] == "created_at"
    assert query.next_status().status == "queued"
    statuses = [None]
    current = query
    for _ in range(6):
        current = current.next_status()
        statuses.append(current.status)
    assert statuses[-1] is None  # wraps around to "all"
    typed = query.next_type({"transcode"})
    assert typed.job_type == "scan"
    assert typed.next_type({"transcode"}).job_type == "transcode"
    assert query.sorted_by("file_path").order == "desc"
    assert query.sorted_by("created_at").order == "asc"  # same column flips
    paged = query.with_page(5, total=120)
    assert paged.page == 2 and paged.api_params()["offset"] == 2 * PAGE_SIZE
    assert query.with_search("  tv ").search == "tv"
    assert query.describe(120, 50) == (
        "status: all  type: all  search: -  sort: created ↓  1-50 of 120"
    )


def test_status_line_wording():
    base = dict(
        failures=0, seconds_to_next=5.0, paused_reasons=frozenset(), last_change=None, error=None
    )
    text = lambda **kw: "  ".join(p for p, _ in describe_status(StatusFacts(**{**base, **kw})))  # noqa: E731
    assert text(state="connected") == "● connected"
    assert text(state="reconnecting", failures=2, error="connection refused") == (
        "◌ reconnecting (2 failed tries)  connection refused"
    )
    assert text(state="offline", failures=3, seconds_to_next=9.2) == "✗ offline, next try in 10s"
    paused = text(state="connected", paused_reasons=frozenset({"focus"}))
    assert "PAUSED (terminal not focused)" in paused
    changed = text(state="connected", last_change=datetime(2026, 1, 1, 6, 5, 4))
    assert changed.endswith("updated 06:05:04")


def test_options_precedence_and_interval_bounds(monkeypatch):
    options = parse_options(
        ["--url", "http://10.0.0.2:9000/", "--interval", "7"], env={"VPO_TOKEN": "t" * 20}
    )
    assert options.url == "http://10.0.0.2:9000"
    assert options.token == "t" * 20
    assert options.interval_s == 7.0
    assert options.mouse is True
    env_only = parse_options(["--no-mouse"], env={"VPO_URL": "http://127.0.0.1:1234"})
    assert env_only.url == "http://127.0.0.1:1234" and env_only.mouse is False
    for bad in ("1", "61", "soon"):
        with pytest.raises(SystemExit) as exc:
            parse_options(["--interval", bad], env={})
        assert exc.value.code == 2


def test_bad_interval_from_the_real_binary_is_one_clear_line():
    tui = Path(sys.executable).parent / "vpo-tui"
    result = subprocess.run(
        [str(tui), "--interval", "1"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert "--interval: 1 is outside 2-60 seconds" in result.stderr
    assert "Traceback" not in result.stderr


# The help text as it reads: derived from the screens' bindings, it must not change by accident.
JOBS_HELP = [
    ("↑ ↓ PgUp PgDn", "move in the list"),
    ("Home  End", "first / last job of the page"),
    ("Enter", "open the job's detail and log"),
    ("r", "refresh now (also retries after a refused token)"),
    ("p", "pause / resume polling"),
    ("n", "new scan: pick a folder (Tab completes)"),
    ("c", "cancel a queued or running job (asks first)"),
    ("R", "retry a failed or cancelled job (asks first)"),
    ("s", "filter by status (cycles)"),
    ("t", "filter by type (cycles)"),
    ("/", "search paths (Enter applies, empty clears)"),
    ("o", "sort by the next column"),
    ("O", "reverse the sort order"),
    ("[  ]", "previous / next page"),
    ("y", "copy the job id (OSC 52 if on, else shown)"),
    ("?", "this help"),
    ("q  Ctrl+C", "quit"),
]
DETAIL_HELP = [
    ("Escape", "back to the list (cursor on the same job)"),
    ("↑ ↓", "scroll the log a line (scrolling up stops following)"),
    ("PgUp PgDn", "scroll the log a page"),
    ("Home", "the start of the log shown"),
    ("End  f", "jump to the end of the log and follow it"),
    ("r", "refresh now (also retries after a refused token)"),
    ("p", "pause / resume polling"),
    ("c", "cancel this job, when queued or running (asks first)"),
    ("L", "the log full screen: wrap, search, $PAGER"),
    ("y", "copy the job id (OSC 52 if on, else shown)"),
    ("?", "this help"),
    ("q  Ctrl+C", "quit"),
]


def test_help_rows_are_derived_from_the_bindings():
    assert help_rows(JobsScreen.BINDINGS, TABLE_KEYS) == JOBS_HELP
    assert help_rows(DetailScreen.BINDINGS, LOG_KEYS, extra_before="follow") == DETAIL_HELP


def test_a_key_declared_once_is_in_the_help():
    bindings = [
        KeyBinding("p", "pause", "Pause", help="pause / resume polling"),
        KeyBinding("x", "export", "Export", show=False, help="export the list"),
        KeyBinding("p", "resume", "Resume", help="pause / resume polling"),
        KeyBinding("slash", "search", "Search", help="search"),
    ]
    assert help_rows(bindings, [("Enter", "open")], extra_before="export") == [
        ("p", "pause / resume polling"),
        ("Enter", "open"),
        ("x", "export the list"),
        ("/", "search"),
    ]
    with pytest.raises(ValueError):
        help_rows(bindings, [("Enter", "open")], extra_before="no-such-action")
