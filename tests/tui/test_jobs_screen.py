"""The jobs screen against a real daemon running real scans.

Polls are fired by the test (manual scheduler) so each step is one real request; the table must
change in place: same Row objects, no rebuild, the cursor on the same job.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.ffprobe_only import ffprobe_only_env
from tests.support.media import build_library, build_many
from tests.support.probe_hold import HeldProbe
from tests.tui.harness import (
    get_job,
    jobs_screen,
    poll_once,
    screen_text,
    submit_scan,
    wait_daemon,
    wait_for,
)
from vpo_tui.screens.confirm import ConfirmScreen
from vpo_tui.screens.jobs import JobsScreen

VPO = Path(sys.executable).parent / "vpo"


def finished(url: str, job_id: str) -> bool:
    return get_job(url, job_id)["status"] in ("completed", "failed", "cancelled")


async def test_rows_change_in_place_while_a_scan_runs(
    daemon_factory, media_cache, tmp_path, make_app, scheduler
):
    # ffprobe, a process per file, lets the scan's progress be seen at several steps.
    daemon = daemon_factory(env=ffprobe_only_env(tmp_path)).start()
    small = build_library(tmp_path / "small", media_cache)
    done_job = submit_scan(daemon.url, str(small.root / "movies"))
    wait_daemon(lambda: finished(daemon.url, done_job["id"]))
    many = build_many(tmp_path / "many", media_cache, 60)

    app = make_app(daemon.url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await jobs_screen(pilot, app)
        table = screen.table
        assert table.job_ids == [done_job["id"]]

        live = submit_scan(daemon.url, str(many.root))
        await poll_once(pilot, screen.loop, scheduler)
        assert table.job_ids == [live["id"], done_job["id"]]  # newest first, inserted on top
        await pilot.press("down")
        assert table.cursor_job_id == done_job["id"]
        rows_before = {key: table.rows[key] for key in table.rows}
        rebuilds_before = table.rebuild_count

        progress_seen = []
        status_seen = []
        while True:
            await poll_once(pilot, screen.loop, scheduler)
            cells = table.get_row(live["id"])
            progress_seen.append(cells[3].plain)
            status_seen.append(cells[2].plain)
            if status_seen[-1] == "✓ completed":
                break
            last = get_job(daemon.url, live["id"])
            if last["status"] == "completed":
                continue  # it ended after that poll: the next poll shows it
            # Wait for the daemon to move on before the next poll (no fixed sleep).
            await wait_for(
                pilot,
                lambda last=last: get_job(daemon.url, live["id"]) != last,
                timeout=30,
            )

        assert "▶ running" in status_seen
        assert len(set(progress_seen)) >= 3, progress_seen
        assert progress_seen[-1] == "100%"
        # Updated in place: no rebuild, the very same Row objects, the cursor on the same job.
        assert table.rebuild_count == rebuilds_before
        assert all(table.rows[key] is row for key, row in rows_before.items())
        assert table.cursor_job_id == done_job["id"]
        assert table.cursor_row == 1


async def test_filters_sort_search_and_cursor_survive_polls(
    daemon, media_cache, tmp_path, make_app, scheduler
):
    library = build_library(tmp_path / "library", media_cache)
    jobs = {}
    for folder in ("tv", "tv2", "movies"):
        jobs[folder] = submit_scan(daemon.url, str(library.root / folder))
    for job in jobs.values():
        wait_daemon(lambda job=job: finished(daemon.url, job["id"]))

    app = make_app(daemon.url)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await jobs_screen(pilot, app)
        table = screen.table
        assert len(table.job_ids) == 3

        # Sort by target path, ascending.
        while screen.query_state.sort != "file_path":
            await pilot.press("o")
        await pilot.press("O")
        await poll_once(pilot, screen.loop, scheduler)
        by_path = sorted(jobs.values(), key=lambda job: job["file_path"])
        assert table.job_ids == [job["id"] for job in by_path]

        # Status filter: all -> queued -> running -> completed.
        for _ in range(3):
            await pilot.press("s")
        assert screen.query_state.status == "completed"

        # Search "tv" (matches tv and tv2), typed into the search box.
        await pilot.press("slash")
        await pilot.press("t", "v", "enter")
        await poll_once(pilot, screen.loop, scheduler)
        # Escape in the search box leaves the search as it was.
        await pilot.press("slash", "x", "escape")
        assert screen.query_state.search == "tv"
        assert not screen.query_one("#search").display
        assert table.job_ids == [jobs["tv"]["id"], jobs["tv2"]["id"]]
        await pilot.press("down")
        assert table.cursor_job_id == jobs["tv2"]["id"]
        rows_before = {key: table.rows[key] for key in table.rows}

        # A new matching job arrives; after the scan completes it sorts between tv and tv2.
        extra = submit_scan(daemon.url, str(library.root / "tv" / "Show"))
        wait_daemon(lambda: finished(daemon.url, extra["id"]))
        for _ in range(2):
            await poll_once(pilot, screen.loop, scheduler)
        assert table.job_ids == [jobs["tv"]["id"], extra["id"], jobs["tv2"]["id"]]
        assert table.cursor_job_id == jobs["tv2"]["id"]
        assert table.rebuild_count == 0
        assert all(table.rows[key] is row for key, row in rows_before.items())

        filters = screen.query_one("#filters").render().plain
        assert "status: completed" in filters
        assert "search: tv" in filters
        assert "sort: target ↑" in filters
        text = screen_text(app)
        assert "movies" not in text.split("search:")[1]  # filtered out, not just hidden


async def test_job_from_vpo_scan_async_appears(daemon, media_cache, tmp_path, make_app, scheduler):
    library = build_library(tmp_path / "library", media_cache)
    app = make_app(daemon.url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await jobs_screen(pilot, app)
        assert screen.table.job_ids == []
        await wait_for(pilot, lambda: "No jobs yet" in screen_text(app))

        env = {k: v for k, v in os.environ.items() if not k.startswith("VPO_")}
        env["VPO_URL"] = daemon.url
        result = subprocess.run(
            [str(VPO), "scan", str(library.root / "tv"), "--async"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        await poll_once(pilot, screen.loop, scheduler)
        assert len(screen.table.job_ids) == 1
        job_id = screen.table.job_ids[0]
        assert job_id[:8] in result.stdout
        await wait_for(pilot, lambda: "No jobs yet" not in screen_text(app))
        await wait_for(pilot, lambda: str(library.root / "tv")[-10:] in screen_text(app))


async def test_cancel_asks_first_and_a_poll_never_touches_the_dialog(
    daemon, media_cache, tmp_path, make_app, scheduler
):
    many = build_many(tmp_path / "many", media_cache, 60)
    library = build_library(tmp_path / "library", media_cache)
    busy = submit_scan(daemon.url, str(many.root))
    # One of the busy scan's probes is held (SIGSTOP) for the whole test: the scan cannot end,
    # so the worker stays busy and `waiting` stays queued however fast the machine is.
    with HeldProbe(daemon.pid):
        assert get_job(daemon.url, busy["id"])["status"] == "running"
        waiting = submit_scan(daemon.url, str(library.root))
        assert get_job(daemon.url, waiting["id"])["status"] == "queued"

        app = make_app(daemon.url)
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await jobs_screen(pilot, app)
            table = screen.table
            assert table.job_ids[0] == waiting["id"]
            assert table.cursor_job_id == waiting["id"]

            await pilot.press("c")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            dialog = app.screen
            question = dialog.question.plain
            assert waiting["id"][:8] in question
            # Polls go on under the dialog; it stays open and unchanged.
            await poll_once(pilot, screen.loop, scheduler)
            await poll_once(pilot, screen.loop, scheduler)
            assert app.screen is dialog
            assert dialog.question.plain == question

            await pilot.press("n")
            await wait_for(pilot, lambda: isinstance(app.screen, JobsScreen))
            assert get_job(daemon.url, waiting["id"])["status"] == "queued"

            await pilot.press("c")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await wait_for(pilot, lambda: isinstance(app.screen, JobsScreen))
            wait_daemon(lambda: get_job(daemon.url, waiting["id"])["status"] == "cancelled")
            await wait_for(
                pilot,
                lambda: table.get_row(waiting["id"])[2].plain == "⊘ cancelled",
                message="the cancelled status never reached the table",
            )
            # The running scan was not touched.
            assert get_job(daemon.url, busy["id"])["status"] == "running"
