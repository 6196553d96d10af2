"""The detail screen's new parts against a real daemon: the errors panel growing while a job
runs, the rate and time left once stable, and the full-screen log (`L`: wrap, search, n / N).

A running job is seeded into the daemon's database by a JobStore of this process (created
running and owned by this live process, so the worker never takes it): the test writes its
progress and errors the way a scan would, between polls it fires by hand (manual scheduler,
fake clock), so what the screen shows at each poll is known exactly.
"""

from __future__ import annotations

from textual.widgets import Input, TextArea

from tests.tui.conftest import running
from tests.tui.harness import (
    detail_screen,
    get_job,
    jobs_screen,
    poll_once,
    screen_text,
    submit_scan,
    wait_daemon,
    wait_for,
)
from vpo.store import JobStore
from vpo_tui.screens.detail import DetailScreen
from vpo_tui.screens.log_view import LogViewScreen


async def open_detail(pilot, app, job_id: str) -> DetailScreen:
    jobs = await jobs_screen(pilot, app)
    await wait_for(pilot, lambda: jobs.table.cursor_job_id == job_id)
    await pilot.press("enter")
    return await detail_screen(pilot, app)


async def test_errors_appear_in_their_panel_while_the_job_runs(
    daemon, make_app, scheduler, tmp_path
):
    with JobStore(daemon.data_dir) as store:
        job = store.create_job("scan", str(tmp_path), status="running")
        app = make_app(daemon.url)
        async with running(app) as pilot:
            detail = await open_detail(pilot, app, job.id)
            panel = detail.query_one("#errors")
            assert not panel.display  # no errors, no panel
            store.record_file_errors(job.id, [(f"{tmp_path}/a.mkv", "cannot read file: EIO")])
            await poll_once(pilot, detail.loop, scheduler)
            await wait_for(pilot, lambda: panel.display)
            assert "Errors (1)" in screen_text(app)
            assert f"{tmp_path}/a.mkv: cannot read file: EIO" in screen_text(app)
            store.record_file_errors(
                job.id,
                [(f"{tmp_path}/b.mkv", "ffprobe failed"), (f"{tmp_path}/c.mkv", "ffprobe failed")],
            )
            await poll_once(pilot, detail.loop, scheduler)
            await wait_for(pilot, lambda: "Errors (3)" in screen_text(app))
            assert detail.errors_held == 3  # only the two new ones were fetched
            assert app.client.sent[f"/api/jobs/{job.id}/errors"] == 2
            store.finish_job(job.id, "completed")


async def test_rate_and_time_left_show_once_the_rate_is_stable(
    daemon, make_app, scheduler, clock, tmp_path
):
    with JobStore(daemon.data_dir) as store:
        job = store.create_job("scan", str(tmp_path), status="running")
        store.update_progress(job.id, phase="probe", processed=0, total=1000, percent=0.0)
        app = make_app(daemon.url)
        async with running(app) as pilot:
            detail = await open_detail(pilot, app, job.id)
            eta = detail.query_one("#eta")
            shown = []
            for step in range(1, 8):
                clock.advance(5)  # a poll every 5 s, 10 files each time: 2 files/s
                store.update_progress(job.id, processed=10 * step, total=1000, percent=step)
                await poll_once(pilot, detail.loop, scheduler)
                shown.append(eta.display)
            assert shown[:2] == [False, False]  # not yet stable: nothing rather than a guess
            assert shown[-1] is True
            text = screen_text(app)
            assert "2.0 files/s" in text
            assert "about 7m 45s left" in text  # (1000 - 70) / 2 = 465 s
            store.finish_job(job.id, "completed")
            await poll_once(pilot, detail.loop, scheduler)
            await wait_for(pilot, lambda: not eta.display)


async def test_the_full_screen_log_wraps_and_searches(daemon, make_app, tmp_path):
    library = tmp_path / "lib"
    (library / "a").mkdir(parents=True)
    job = submit_scan(daemon.url, str(library))
    wait_daemon(lambda: get_job(daemon.url, job["id"])["status"] == "completed")
    app = make_app(daemon.url)
    async with running(app) as pilot:
        detail = await open_detail(pilot, app, job["id"])
        await wait_for(pilot, lambda: detail.log_view.line_count >= 3)
        await pilot.press("L")
        view = await wait_for(pilot, lambda: isinstance(app.screen, LogViewScreen) and app.screen)
        area = view.query_one(TextArea)
        assert area.text.splitlines() == list(detail.log_view.lines)
        await pilot.press("w")
        assert area.soft_wrap is True and "wrap on" in screen_text(app)
        await pilot.press("w")
        assert area.soft_wrap is False
        await pilot.press("slash")
        await wait_for(pilot, lambda: view.query_one("#find", Input).has_focus)
        await pilot.press(*"info", "enter")  # lower case: any case matches
        await wait_for(pilot, lambda: area.selected_text == "INFO")
        first = area.selection.start
        await pilot.press("n")
        await wait_for(pilot, lambda: area.selection.start != first)
        assert area.selected_text == "INFO"  # the next one (after the last line: the first)
        await pilot.press("N")
        await wait_for(pilot, lambda: area.selection.start == first)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
