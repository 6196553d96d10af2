"""The detail screen against a real daemon: progress, a growing log, the final lines, 404."""

from __future__ import annotations

import uuid

import httpx

from tests.support.ffprobe_only import ffprobe_only_env
from tests.support.media import build_library, build_many, write_corrupt_video
from tests.support.probe_hold import HeldProbe
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
from vpo_tui.screens.detail import GONE_MESSAGE, LOG_KEYS, DetailScreen
from vpo_tui.screens.help import HelpScreen, help_rows
from vpo_tui.screens.jobs import TABLE_KEYS, JobsScreen


async def test_detail_shows_progress_and_a_growing_log_to_the_end(
    daemon, media_cache, tmp_path, make_app, scheduler, clock
):
    library = build_library(tmp_path / "library", media_cache)
    first = submit_scan(daemon.url, str(library.root / "movies"))
    wait_daemon(lambda: get_job(daemon.url, first["id"])["status"] == "completed")
    many = build_many(tmp_path / "many", media_cache, 60)
    live = submit_scan(daemon.url, str(many.root))
    app = make_app(daemon.url)
    # One probe is held (SIGSTOP) until the detail screen is open: the scan cannot end before
    # the screen sees it running, however fast the machine is. It is taken at once: PyAV's
    # workers probe 60 tiny clips in well under a second, so waiting for progress first could
    # find the scan already over.
    with HeldProbe(daemon.pid) as held:
        wait_daemon(lambda: get_job(daemon.url, live["id"])["processed_count"] > 0)
        async with app.run_test(size=(100, 30)) as pilot:
            jobs = await jobs_screen(pilot, app)
            assert jobs.table.job_ids == [live["id"], first["id"]]
            assert jobs.table.cursor_job_id == live["id"]
            jobs_requests = jobs.loop.requests_started

            await pilot.press("enter")
            detail = await detail_screen(pilot, app)
            assert detail.job_id == live["id"]
            text = screen_text(app)
            assert " of 60 files" in text
            assert "probe" in text or "hash" in text
            lines_seen = [detail.log_view.line_count]
            assert lines_seen[0] >= 3  # the lines written before the detail opened
            assert detail.job["status"] == "running"
            held.release()

            # Only the visible screen polls: the list's timer is gone, so `fire` finds one timer.
            while not detail.loop.poller.stopped:
                before = get_job(daemon.url, live["id"])
                if before["status"] == "running":
                    await wait_for(
                        pilot,
                        lambda before=before: get_job(daemon.url, live["id"]) != before,
                        timeout=30,
                    )
                clock.advance(app.log_interval_ms / 1000)
                await poll_once(pilot, detail.loop, scheduler)
                lines_seen.append(detail.log_view.line_count)
                progress = detail.query_one("#progress").plain_text
                assert " of " in progress or "total not known yet" in progress, progress

            assert detail.job["status"] == "completed"
            log_text = "\n".join(detail.log_view.lines)
            assert "Job completed" in log_text  # the final fetch brought the last lines
            assert lines_seen[-1] > lines_seen[0]
            await wait_for(pilot, lambda: "60 of 60 files" in screen_text(app))
            await wait_for(pilot, lambda: "100%" in screen_text(app))
            # Terminal job: polling stopped after the final fetch, no timer left.
            assert detail.loop.poller.stopped
            assert scheduler.armed == []
            await wait_for(pilot, lambda: "polling stopped" in screen_text(app))
            assert jobs.loop.requests_started == jobs_requests

            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, JobsScreen))
            # Back on the list: an immediate fetch, the cursor on the same job.
            await wait_for(pilot, lambda: jobs.loop.requests_finished > jobs_requests)
            assert jobs.table.cursor_job_id == live["id"]
            assert jobs.table.get_row(live["id"])[2].plain == "✓ completed"


async def test_detail_of_a_job_that_does_not_exist(daemon, make_app):
    app = make_app(daemon.url)
    async with app.run_test(size=(80, 24)) as pilot:
        jobs = await jobs_screen(pilot, app)
        jobs.open_detail(str(uuid.uuid4()))
        detail = await detail_screen(pilot, app)
        await wait_for(pilot, lambda: detail.gone)
        # The flag is set before the next frame is drawn: wait for the screen to show it.
        await wait_for(pilot, lambda: GONE_MESSAGE in screen_text(app))
        assert detail.loop.poller.stopped
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, JobsScreen))


async def test_each_screen_opens_the_help_of_its_own_bindings(daemon, make_app):
    app = make_app(daemon.url)
    async with app.run_test(size=(80, 24)) as pilot:
        jobs = await jobs_screen(pilot, app)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert app.screen.keys == help_rows(JobsScreen.BINDINGS, TABLE_KEYS)
        assert "Jobs screen keys" in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is jobs)
        jobs.open_detail(str(uuid.uuid4()))
        await detail_screen(pilot, app)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert app.screen.keys == help_rows(DetailScreen.BINDINGS, LOG_KEYS, extra_before="follow")
        assert "End  f" in screen_text(app)


def log_total(url: str, job_id: str) -> int:
    with httpx.Client(base_url=url, timeout=10) as http:
        return http.get(f"/api/jobs/{job_id}/logs", params={"lines": 1}).json()["total_lines"]


async def test_log_follows_until_scrolled_up_and_again_at_the_end(
    daemon_factory, media_cache, tmp_path, make_app, scheduler, clock
):
    # ffprobe, a process per file, is slow enough for the log to grow while the test watches.
    daemon = daemon_factory(env=ffprobe_only_env(tmp_path)).start()
    # Good videos (slow to probe) interleaved with corrupt ones (one ERROR log line each), so
    # the log keeps growing while the scan runs: far more files than the test needs lines.
    library = build_many(tmp_path / "lib", media_cache, 200)
    for number in range(200):
        write_corrupt_video(library.root / "show" / f"E{number:03d}b.mkv", seed=number)
    job = submit_scan(daemon.url, str(library.root))
    wait_daemon(lambda: log_total(daemon.url, job["id"]) >= 20, timeout=60)

    app = make_app(daemon.url)
    # One probe is held (SIGSTOP) for the whole test: the scan cannot end, so every poll below
    # sees it running, while the other probe thread goes on writing log lines.
    with HeldProbe(daemon.pid):
        async with app.run_test(size=(80, 24)) as pilot:
            jobs = await jobs_screen(pilot, app)
            jobs.open_detail(job["id"])
            detail = await detail_screen(pilot, app)
            log = detail.log_view
            assert detail.job["status"] == "running"
            await wait_for(pilot, lambda: 0 < log.max_scroll_y == log.scroll_y)
            assert detail.follow_mode
            assert log.border_title == "Log (following)"

            log.scroll_home(animate=False)
            await wait_for(pilot, lambda: log.border_title == "Log (scrolled; End follows)")
            held = log.line_count
            await wait_for(pilot, lambda: log_total(daemon.url, job["id"]) > held, timeout=30)
            clock.advance(app.log_interval_ms / 1000)
            await poll_once(pilot, detail.loop, scheduler)
            assert log.line_count > held
            assert log.scroll_y == 0  # new lines did not pull the reader away
            assert not detail.follow_mode

            await pilot.press("f")
            await wait_for(pilot, lambda: detail.follow_mode)
            assert log.border_title == "Log (following)"
            held = log.line_count
            await wait_for(pilot, lambda: log_total(daemon.url, job["id"]) > held, timeout=30)
            clock.advance(app.log_interval_ms / 1000)
            await poll_once(pilot, detail.loop, scheduler)
            await wait_for(pilot, lambda: log.line_count > held and detail.follow_mode)
            await wait_for(pilot, lambda: log.scroll_y == log.max_scroll_y, message="not following")


async def test_failed_job_shows_its_error(daemon, media_cache, tmp_path, make_app):
    busy_library = build_many(tmp_path / "busy", media_cache, 30)
    vanishing = tmp_path / "vanishing"
    vanishing.mkdir()
    busy = submit_scan(daemon.url, str(busy_library.root))
    wait_daemon(lambda: get_job(daemon.url, busy["id"])["status"] == "running")
    doomed = submit_scan(daemon.url, str(vanishing))
    vanishing.rmdir()  # gone before the worker gets to it
    with httpx.Client(base_url=daemon.url, timeout=10) as http:
        http.post(f"/api/jobs/{busy['id']}/cancel")
    wait_daemon(lambda: get_job(daemon.url, doomed["id"])["status"] == "failed")
    message = get_job(daemon.url, doomed["id"])["error_message"]
    assert message

    app = make_app(daemon.url)
    async with app.run_test(size=(100, 30)) as pilot:
        jobs = await jobs_screen(pilot, app)
        assert jobs.table.get_row(doomed["id"])[2].plain == "✗ failed"
        jobs.open_detail(doomed["id"])
        detail = await detail_screen(pilot, app)
        # The fields were applied with the first poll; the frame showing them follows.
        text = await wait_for(
            pilot,
            lambda: (t := screen_text(app)) and "✗ failed" in t and "Error: " in t and t,
        )
        assert "Log (job ended)" in text  # never "following" on a finished job
        assert f"Error: {message}" in detail.query_one("#fields").render().plain
        assert detail.loop.poller.stopped  # terminal: one fetch (plus the log) and done
