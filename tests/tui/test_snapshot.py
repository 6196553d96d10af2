"""The main screen at 80x24, compared as text with a stored snapshot (volatile parts masked).

Set VPO_UPDATE_SNAPSHOTS=1 to rewrite the stored file after an intended change, then review
the diff like code.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.support.media import build_library
from tests.tui.harness import (
    ManualScheduler,
    get_job,
    jobs_screen,
    screen_text,
    submit_scan,
    wait_daemon,
    wait_for,
)

SNAPSHOT = Path(__file__).parent / "snapshots" / "jobs_80x24.txt"

MASKS = [
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
    (re.compile(r"\b[0-9a-f]{8}\b"), "########"),
    (re.compile(r"\b\d\d:\d\d:\d\d\b"), "hh:mm:ss"),
    (re.compile(r"\b\d\d-\d\d hh:mm\b"), "mm-dd hh:mm"),
    (re.compile(r"(?<=\s)\d{1,2}s(?=\s)"), "Ns"),
]


def masked(text: str) -> str:
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


async def test_main_screen_80x24(daemon, media_cache, tmp_path, make_app):
    library = build_library(tmp_path / "media" / "library", media_cache)
    for folder in ("tv", "tv2", "movies"):
        job = submit_scan(daemon.url, str(library.root / folder))
        wait_daemon(lambda job=job: get_job(daemon.url, job["id"])["status"] == "completed")

    # With the counters line, polled once (its timer is in the test's hands).
    app = make_app(daemon.url, show_stats=True, stats_scheduler=ManualScheduler())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await jobs_screen(pilot, app)
        assert len(screen.table.job_ids) == 3
        stats = screen.query_one("#stats")
        await wait_for(pilot, lambda: stats.loop.requests_finished >= 1)
        await pilot.pause()
        actual = masked(screen_text(app))

    if os.environ.get("VPO_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(actual)
    expected = SNAPSHOT.read_text()
    assert actual == expected, f"screen differs from {SNAPSHOT}:\n{actual}"
