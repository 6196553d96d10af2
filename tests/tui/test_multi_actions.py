"""Acting from `vpo-tui --all`, against two real daemon processes: retry, New scan (with the
daemon choice), `y`, the detail (errors panel, rate and time left, full log) and the summed
counters all reach the daemon that owns the job, and only it.

Each daemon hints a 60 s idle wait (`idle_interval_seconds = 60`), so a new job that waited for
the next regular poll would show a minute late: the tests that run real timers check that a job
queued from here shows within about one 2 s interval. The detail test fires its polls by hand
(manual scheduler, fake clock), as tests/tui/test_detail_actions.py does; every request is
still real HTTP to a real daemon.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from textual.widgets import Input, TextArea

from tests.tui.harness import (
    CountingClient,
    FakeClock,
    ManualScheduler,
    get_job,
    poll_once,
    screen_text,
    wait_for,
)
from tests.tui.test_actions import seed_failed
from tests.tui.test_trust import footer_text
from vpo.joblog import JobLog
from vpo.store import JobStore
from vpo_tui.app import VpoTuiApp
from vpo_tui.merged_list import row_key
from vpo_tui.screens.choose_daemon import ChooseDaemonScreen
from vpo_tui.screens.confirm import ConfirmScreen
from vpo_tui.screens.detail import DetailScreen
from vpo_tui.screens.help import HelpScreen
from vpo_tui.screens.log_view import LogViewScreen
from vpo_tui.screens.multi_jobs import MultiJobsScreen
from vpo_tui.screens.new_scan import NewScanScreen

SLOW_IDLE = {"polling": {"interval_seconds": 2, "idle_interval_seconds": 60}}
ONE_INTERVAL_S = 2.0
SLACK_S = 3.0  # a loaded machine's request and repaint time, far below the 60 s idle wait


def two_daemons(daemon_factory, roots: dict[str, Path] | None = None) -> dict[str, object]:
    daemons = {}
    for name in ("films", "tv"):
        config = dict(SLOW_IDLE)
        if roots:
            config["scan"] = {"roots": [str(roots[name])]}
        daemons[name] = daemon_factory(config=config).start()
    return daemons


def make_app(daemons: dict, **kwargs: object) -> VpoTuiApp:
    feeds = [(name, CountingClient(daemon.url)) for name, daemon in daemons.items()]
    return VpoTuiApp(feeds[0][1], url=feeds[0][1].base_url, feeds=feeds, **kwargs)


async def multi_screen(pilot, app: VpoTuiApp, rows: int) -> MultiJobsScreen:
    await wait_for(pilot, lambda: isinstance(app.screen, MultiJobsScreen))
    screen: MultiJobsScreen = app.screen  # type: ignore[assignment]
    await wait_for(pilot, lambda: len(screen.table.job_ids) == rows, timeout=20)
    return screen


def jobs_of(daemon) -> list[dict]:
    return httpx.get(f"{daemon.url}/api/jobs", timeout=10).json()["jobs"]


async def idle_feeds(pilot, screen: MultiJobsScreen) -> None:
    """Every daemon's rows loop past an answer that hinted the 60 s idle wait."""
    for feed in screen.feeds:
        await wait_for(pilot, lambda feed=feed: feed.poller.effective_interval_ms == 60_000)


async def test_retry_goes_to_the_owning_daemon_and_the_counters_sum(daemon_factory, tmp_path):
    daemons = two_daemons(daemon_factory)
    failed = {name: seed_failed(daemon, tmp_path / name) for name, daemon in daemons.items()}
    app = make_app(daemons)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await multi_screen(pilot, app, rows=2)
        # The counters line adds both daemons' counts.
        await wait_for(pilot, lambda: "✗ 2 failed in 24 h" in screen_text(app), timeout=20)
        await idle_feeds(pilot, screen)
        target = row_key("tv", failed["tv"])
        screen.table.move_cursor(row=screen.table.get_row_index(target))
        await wait_for(pilot, lambda: screen.check_action("retry_job", ()))
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        # The owner queued it: the new job is tv's and says what it retries; films has none.
        new_ids = await wait_for(
            pilot, lambda: [j["id"] for j in jobs_of(daemons["tv"]) if j["id"] != failed["tv"]]
        )
        assert get_job(daemons["tv"].url, new_ids[0])["retry_of"] == failed["tv"]
        assert [job["id"] for job in jobs_of(daemons["films"])] == [failed["films"]]
        new_key = row_key("tv", new_ids[0])
        await wait_for(
            pilot,
            lambda: screen.table.cursor_job_id == new_key,
            timeout=ONE_INTERVAL_S + SLACK_S,
            message="the retried job waited for tv's idle hint",
        )


async def test_new_scan_asks_which_daemon_and_lands_there(daemon_factory, tmp_path):
    roots = {name: tmp_path / f"{name}-media" for name in ("films", "tv")}
    for name, root in roots.items():
        (root / f"{name}-only").mkdir(parents=True)
    daemons = two_daemons(daemon_factory, roots)
    app = make_app(daemons)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await multi_screen(pilot, app, rows=0)
        await idle_feeds(pilot, screen)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, ChooseDaemonScreen))
        assert "New scan on which daemon?" in screen_text(app)
        await pilot.press("escape")  # changed my mind: nothing opens
        await wait_for(pilot, lambda: isinstance(app.screen, MultiJobsScreen))
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, ChooseDaemonScreen))
        await pilot.press("down", "enter")  # the second row: tv
        dialog = await wait_for(pilot, lambda: isinstance(app.screen, NewScanScreen) and app.screen)
        await wait_for(pilot, lambda: dialog.roots is not None)
        assert "New scan on tv" in screen_text(app)
        assert dialog.roots == [str(roots["tv"])]  # tv's roots, not films'
        box = dialog.query_one("#path", Input)
        await pilot.press("tab")  # tv's one root
        await wait_for(pilot, lambda: box.value == f"{roots['tv']}/")
        await pilot.press("tab")  # tv's one folder, from tv's /api/browse
        await wait_for(pilot, lambda: box.value == f"{roots['tv']}/tv-only/")
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, NewScanScreen))
        tv_jobs = jobs_of(daemons["tv"])
        assert [job["file_path"] for job in tv_jobs] == [f"{roots['tv']}/tv-only"]
        assert jobs_of(daemons["films"]) == []
        await wait_for(
            pilot,
            lambda: screen.table.cursor_job_id == row_key("tv", tv_jobs[0]["id"]),
            timeout=ONE_INTERVAL_S + SLACK_S,
            message="the new job waited for tv's idle hint",
        )
        films_client = screen.feeds[0].client
        assert films_client.sent["/api/roots"] == 0 and films_client.sent["/api/browse"] == 0

        # The digit picks too; the list showing one daemon (d) skips the question.
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, ChooseDaemonScreen))
        await pilot.press("1")
        await wait_for(pilot, lambda: isinstance(app.screen, NewScanScreen))
        assert "New scan on films" in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MultiJobsScreen))
        await pilot.press("d", "d")  # films, then tv
        await wait_for(pilot, lambda: screen.view == "tv")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewScanScreen))
        assert "New scan on tv" in screen_text(app)
        await pilot.press("escape")


@pytest.mark.parametrize("where", ["list", "detail"])
async def test_y_copies_the_daemon_and_id(daemon_factory, tmp_path, where):
    daemons = two_daemons(daemon_factory)
    job_id = seed_failed(daemons["tv"], tmp_path)
    app = make_app(daemons, osc52=True, show_stats=False)
    async with app.run_test(size=(120, 30), notifications=True) as pilot:
        screen = await multi_screen(pilot, app, rows=1)
        if where == "detail":
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: app.clipboard == f"tv:{job_id}")
        assert screen.table.cursor_job_id == f"tv:{job_id}"


async def test_detail_errors_eta_and_log_come_from_the_second_daemon(daemon_factory, tmp_path):
    daemons = two_daemons(daemon_factory)
    seed_failed(daemons["films"], tmp_path / "films")
    scheduler, clock = ManualScheduler(), FakeClock()
    app = make_app(daemons, scheduler=scheduler, clock=clock, show_stats=False)
    films, tv = (client for _name, client in app.feeds)
    with JobStore(daemons["tv"].data_dir) as store:
        job = store.create_job("scan", str(tmp_path), status="running")
        store.update_progress(job.id, phase="probe", processed=0, total=1000, percent=0.0)
        log = JobLog(store.logs_dir, job.id)
        for number in range(5):
            log.info(f"tv line {number}")
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await multi_screen(pilot, app, rows=2)
            screen.table.move_cursor(row=screen.table.get_row_index(row_key("tv", job.id)))
            await pilot.press("enter")
            detail = await wait_for(
                pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen
            )
            await wait_for(pilot, lambda: detail.loop.requests_finished >= 1)
            assert "on tv" in screen_text(app)
            # The list's loops pause: only the detail's timer is armed, so polls fire by hand.
            store.record_file_errors(job.id, [(f"{tmp_path}/a.mkv", "cannot read file: EIO")])
            for step in range(1, 8):
                clock.advance(5)  # 10 files every 5 s: 2 files/s
                store.update_progress(job.id, processed=10 * step, total=1000, percent=step)
                await poll_once(pilot, detail.loop, scheduler)
            text = screen_text(app)
            assert "Errors (1)" in text and f"{tmp_path}/a.mkv: cannot read file: EIO" in text
            assert "2.0 files/s" in text and "about 7m 45s left" in text
            await wait_for(pilot, lambda: "tv line 4" in "\n".join(detail.log_view.lines))
            assert tv.sent[f"/api/jobs/{job.id}/errors"] == 1
            assert not [path for path in films.sent if job.id in path]

            await pilot.press("L")
            view = await wait_for(
                pilot, lambda: isinstance(app.screen, LogViewScreen) and app.screen
            )
            assert "tv line 4" in view.query_one(TextArea).text
            # The pager gets the whole log, fetched from tv (no terminal to hand over here:
            # the app says where the file is).
            logs_before = tv.sent[f"/api/jobs/{job.id}/logs"]
            await pilot.press("o")
            await wait_for(pilot, lambda: tv.sent[f"/api/jobs/{job.id}/logs"] > logs_before)
            assert not [path for path in films.sent if job.id in path]
            store.finish_job(job.id, "completed")


async def test_footer_and_help_at_80_columns(daemon_factory, tmp_path):
    daemons = two_daemons(daemon_factory)
    seed_failed(daemons["tv"], tmp_path)
    app = make_app(daemons)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await multi_screen(pilot, app, rows=1)
        await wait_for(pilot, lambda: screen.check_action("retry_job", ()))
        footer = await wait_for(pilot, lambda: "R Retry" in footer_text(app) and footer_text(app))
        for key in ("⏎ Open", "p Pause", "n New", "R Retry", "d Daemon", "? Keys", "q Quit"):
            assert key in footer, footer
        assert footer.rstrip().endswith("q Quit")  # nothing cut off at 80 columns
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = " ".join(screen_text(app).split())
        rows = (
            "d show all daemons",
            "n new scan",
            "R retry a failed",
            "c cancel a queued",
            "t filter by type",
            "y copy the job id",
            "q Ctrl+C quit",
        )
        for row in rows:
            assert row in text, (row, text)
        assert "closes this help" in text  # the whole help fits 24 rows
