"""The TUI follows the daemon's X-Poll-Interval hint (docs/design.md §7), against real daemons.

The manual scheduler records the delay each poll arms (the hint's effect), so the first tests
need no real 20 s waits; every poll is a real request to a real daemon. The last ones run real
timers against a daemon that hints a 60 s idle wait: a job submitted from this client (New scan,
retry) must show in the list and the counters within about one 2 s interval.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from textual.widgets import Input

from tests.tui.harness import CountingClient, jobs_screen, poll_once, wait_for
from vpo.jobs import CANCELLED, RUNNING
from vpo.store import JobStore
from vpo_tui.app import VpoTuiApp
from vpo_tui.screens.confirm import ConfirmScreen
from vpo_tui.screens.jobs import JobsScreen
from vpo_tui.screens.new_scan import NewScanScreen
from vpo_tui.widgets.stats_line import StatsLine


async def test_idle_daemon_stretches_the_wait_and_work_brings_it_back(
    daemon_factory, make_app, scheduler, tmp_path: Path
):
    daemon = daemon_factory(config={"polling": {"interval_seconds": 2, "idle_interval_seconds": 8}})
    daemon.start()
    app = make_app(daemon.url)
    store = JobStore(daemon.data_dir)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await jobs_screen(pilot, app)
            assert scheduler.armed[-1].delay == 8.0  # idle: the hint
            job = store.create_job("scan", str(tmp_path), status=RUNNING)
            await poll_once(pilot, screen.loop, scheduler)
            assert scheduler.armed[-1].delay == 2.0  # a job is running: the interval, at once
            await wait_for(pilot, lambda: screen.jobs_by_id.get(job.id) is not None)
            store.finish_job(job.id, CANCELLED)
            await poll_once(pilot, screen.loop, scheduler)
            assert scheduler.armed[-1].delay == 8.0
            # A submit from this client: the pending idle wait is cut to one interval.
            screen.loop.job_started()
            assert [timer.delay for timer in scheduler.armed] == [2.0]
    finally:
        store.close()


async def test_an_explicit_interval_is_kept_while_work_runs(
    daemon_factory, make_app, scheduler, tmp_path: Path
):
    """`--interval 2` against a daemon polled every 5 s: 2 s while busy, the idle hint when not."""
    daemon = daemon_factory().start()
    app = make_app(daemon.url, interval_s=2)
    store = JobStore(daemon.data_dir)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await jobs_screen(pilot, app)
            assert scheduler.armed[-1].delay == 20.0
            store.create_job("scan", str(tmp_path), status=RUNNING)
            await poll_once(pilot, screen.loop, scheduler)
            assert scheduler.armed[-1].delay == 2.0
    finally:
        store.close()


# Real timers and a real clock from here on: what is checked is how long the user waits.
SLOW_IDLE = {"polling": {"interval_seconds": 2, "idle_interval_seconds": 60}}
ONE_INTERVAL_S = 2.0
SLACK_S = 2.5  # a loaded machine's request and repaint time, far below the 60 s idle wait


def slow_idle_app(url: str) -> VpoTuiApp:
    return VpoTuiApp(CountingClient(url), url=url, show_stats=True)


async def idle_screen(pilot, app: VpoTuiApp) -> tuple[JobsScreen, StatsLine]:
    """The jobs screen and its counters, both past a poll whose answer hinted the idle wait."""
    screen = await jobs_screen(pilot, app)
    line = screen.query_one(StatsLine)
    await wait_for(pilot, lambda: line.loop is not None and line.loop.requests_finished >= 1)
    for loop in (screen.loop, line.loop):
        await wait_for(pilot, lambda loop=loop: loop.poller.effective_interval_ms == 60_000)
    return screen, line


async def test_a_new_scan_from_here_cuts_the_idle_wait(daemon_factory, tmp_path: Path):
    daemon = daemon_factory(config=SLOW_IDLE).start()
    target = tmp_path / "new"
    target.mkdir()
    app = slow_idle_app(daemon.url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, line = await idle_screen(pilot, app)
        stats_before = line.loop.requests_finished
        await pilot.press("n")
        dialog = await wait_for(pilot, lambda: isinstance(app.screen, NewScanScreen) and app.screen)
        await wait_for(pilot, lambda: dialog.roots is not None)
        dialog.query_one("#path", Input).value = str(target)
        submitted_at = time.monotonic()
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, NewScanScreen))
        job_id = httpx.get(f"{daemon.url}/api/jobs").json()["jobs"][0]["id"]
        await wait_for(
            pilot,
            lambda: screen.table.cursor_job_id == job_id,
            timeout=ONE_INTERVAL_S + SLACK_S,
            message="the new job's row waited for the idle hint",
        )
        # The counters follow too: their loop was told, not left to its 60 s idle wait.
        await wait_for(
            pilot,
            lambda: line.loop.requests_finished > stats_before,
            timeout=ONE_INTERVAL_S + SLACK_S,
            message="the counters line waited for the idle hint",
        )
        assert time.monotonic() - submitted_at < ONE_INTERVAL_S + SLACK_S


async def test_a_retry_from_here_cuts_the_idle_wait(daemon_factory, tmp_path: Path):
    daemon = daemon_factory(config=SLOW_IDLE).start()
    with JobStore(daemon.data_dir) as store:
        failed = store.create_job(
            "scan", str(tmp_path), params={"paths": [str(tmp_path)], "full": False}, status=RUNNING
        )
        store.finish_job(failed.id, "failed", error_message="the disk went away")
    app = slow_idle_app(daemon.url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, line = await idle_screen(pilot, app)
        await wait_for(pilot, lambda: screen.table.cursor_job_id == failed.id)
        stats_before = line.loop.requests_finished
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(
            pilot, lambda: len(screen.table.job_ids) == 2, timeout=ONE_INTERVAL_S + SLACK_S
        )
        retried = next(job for job in screen.table.job_ids if job != failed.id)
        await wait_for(pilot, lambda: screen.table.cursor_job_id == retried)
        await wait_for(
            pilot,
            lambda: line.loop.requests_finished > stats_before,
            timeout=ONE_INTERVAL_S + SLACK_S,
            message="the counters line waited for the idle hint",
        )
