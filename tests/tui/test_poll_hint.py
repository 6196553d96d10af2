"""The TUI follows the daemon's X-Poll-Interval hint (docs/design.md §7), against real daemons.

The manual scheduler records the delay each poll arms (the hint's effect), so the test needs no
real 20 s waits; every poll is a real request to a real daemon.
"""

from __future__ import annotations

from pathlib import Path

from tests.tui.harness import jobs_screen, poll_once, wait_for
from vpo.jobs import CANCELLED, RUNNING
from vpo.store import JobStore


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
