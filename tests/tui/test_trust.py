"""What the screen claims is what it knows: staleness, offline filters, cancels, keys, footer.

Each test reproduces a defect found by trying the client as a new user would; each failed
before its fix. Polls fire through the manual scheduler (real requests to a real daemon); the
fake clock stands in for the minutes a stale loop would otherwise need.
"""

from __future__ import annotations

import httpx

from tests.support.media import build_library, build_many
from tests.support.probe_hold import HeldProbe
from tests.tui import harness
from vpo_tui.screens.confirm import ConfirmScreen
from vpo_tui.screens.detail import DetailScreen
from vpo_tui.screens.jobs import JobsScreen
from vpo_tui.screens.polled import CANCEL_FOLLOW_DELAY_S


def footer_text(app) -> str:
    """The footer row (the one offering the help key), or "" before it is drawn."""
    rows = [row for row in harness.screen_text(app).splitlines() if "? Keys" in row]
    return rows[-1] if rows else ""


async def test_a_loop_that_died_reads_stale_not_connected(daemon, make_app, scheduler, clock):
    app = make_app(daemon.url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await harness.jobs_screen(pilot, app)
        await harness.wait_for(pilot, lambda: "● connected" in harness.screen_text(app))
        # Kill the loop behind its back (what the zero-delay timer used to do): no request, no
        # timer. Time passes beyond one interval plus one request timeout.
        screen.loop._cancel_timer()
        poller = screen.loop.poller
        clock.advance(poller.stale_after_s + 1)
        await harness.wait_for(
            pilot,
            lambda: "✗ stale since" in harness.screen_text(app),
            timeout=5,
            message="a loop with no success for too long still claims 'connected'",
        )
        assert "● connected" not in harness.screen_text(app)
        screen.loop.poll_now(force=True)  # one success and the claim is true again
        await harness.wait_for(pilot, lambda: "● connected" in harness.screen_text(app))


async def test_a_paused_loop_reads_idle_after_a_while(daemon, make_app, scheduler, clock):
    app = make_app(daemon.url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await harness.jobs_screen(pilot, app)
        await pilot.press("p")
        clock.advance(screen.loop.poller.stale_after_s + 1)
        await harness.wait_for(
            pilot, lambda: "○ idle, last answer" in harness.screen_text(app), timeout=5
        )
        assert "stale" not in harness.screen_text(app)  # paused on purpose: not a fault


async def test_offline_filter_change_says_it_waits_for_the_daemon(
    daemon, make_app, scheduler, tmp_path
):
    library = tmp_path / "lib"
    library.mkdir()
    job = harness.submit_scan(daemon.url, str(library))
    harness.wait_daemon(lambda: harness.get_job(daemon.url, job["id"])["status"] == "completed")
    app = make_app(daemon.url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await harness.jobs_screen(pilot, app)
        await harness.wait_for(pilot, lambda: job["id"] in screen.table.job_ids)
        daemon.stop()
        for _ in range(3):
            await harness.poll_once(pilot, screen.loop, scheduler)
        assert screen.loop.poller.state == "offline"
        await pilot.press("s")  # status: queued, which the shown rows do not answer
        await harness.wait_for(
            pilot, lambda: "filter applies when connected" in harness.screen_text(app)
        )
        assert job["id"] in screen.table.job_ids  # the old rows stay, and the screen says why


async def test_home_and_end_move_the_row_cursor(daemon, make_app, tmp_path):
    library = tmp_path / "lib"
    library.mkdir()
    jobs = [harness.submit_scan(daemon.url, str(library)) for _ in range(4)]
    app = make_app(daemon.url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await harness.jobs_screen(pilot, app)
        await harness.wait_for(pilot, lambda: len(screen.table.job_ids) == len(jobs))
        assert screen.table.cursor_row == 0
        await pilot.press("end")
        await harness.wait_for(pilot, lambda: screen.table.cursor_row == len(jobs) - 1)
        await pilot.press("home")
        await harness.wait_for(pilot, lambda: screen.table.cursor_row == 0)


async def test_slash_then_enter_typed_at_once_never_opens_a_job(daemon, make_app, tmp_path):
    library = tmp_path / "lib"
    library.mkdir()
    harness.submit_scan(daemon.url, str(library))
    app = make_app(daemon.url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await harness.jobs_screen(pilot, app)
        await harness.wait_for(pilot, lambda: screen.table.job_ids)
        # Both keys queued before the app handles the first: as when typed quickly over SSH.
        app.simulate_key("slash")
        app.simulate_key("enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, JobsScreen), "Enter opened the selected job"
        assert app.screen.query_one("#search").display


async def test_footer_shows_the_keys_that_work_now(daemon, make_app, media_cache, tmp_path):
    done_library = tmp_path / "done"
    done_library.mkdir()
    done = harness.submit_scan(daemon.url, str(done_library))
    harness.wait_daemon(lambda: harness.get_job(daemon.url, done["id"])["status"] == "completed")
    many = build_many(tmp_path / "many", media_cache, 30)
    app = make_app(daemon.url)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await harness.jobs_screen(pilot, app)
        footer = await harness.wait_for(pilot, lambda: footer_text(app))
        for key in ("⏎ Open", "p Pause", "s Status", "t Type", "o Sort", "[ ] Page", "? Keys"):
            assert key in footer, footer
        assert "Cancel" not in footer  # the only job has finished
        await pilot.press("p")
        await harness.wait_for(pilot, lambda: "p Resume" in footer_text(app))
        await pilot.press("p")
        await harness.wait_for(pilot, lambda: "p Pause" in footer_text(app))

        busy = harness.submit_scan(daemon.url, str(many.root))
        with HeldProbe(daemon.pid):
            screen.loop.poll_now(force=True)
            await harness.wait_for(pilot, lambda: busy["id"] in screen.table.job_ids)
            await pilot.press("home")  # the cursor stays on its job across polls: move it
            await harness.wait_for(pilot, lambda: screen.table.cursor_job_id == busy["id"])
            await harness.wait_for(pilot, lambda: "c Cancel" in footer_text(app))
            assert footer_text(app).rstrip().endswith("q Quit")  # still fits 80 columns
            with httpx.Client(base_url=daemon.url) as http:
                assert http.post(f"/api/jobs/{busy['id']}/cancel", json={}).is_success
        harness.wait_daemon(
            lambda: harness.get_job(daemon.url, busy["id"])["status"] == "cancelled"
        )


async def test_detail_follows_a_cancel_closely(daemon, make_app, media_cache, tmp_path, scheduler):
    many = build_many(tmp_path / "many", media_cache, 30)
    busy = harness.submit_scan(daemon.url, str(many.root))
    app = make_app(daemon.url)
    with HeldProbe(daemon.pid):
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await harness.jobs_screen(pilot, app)
            screen.open_detail(busy["id"])
            detail = await harness.detail_screen(pilot, app)
            assert detail.job["status"] == "running"
            first_timer = len(scheduler.timers)
            await pilot.press("c")
            await harness.wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await harness.wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
            # Every poll while the job still runs is followed closely, not at the next tick.
            for _ in range(10):
                await harness.wait_for(pilot, lambda: not detail.loop.poller.in_flight)
                if detail.loop.poller.stopped:
                    break
                armed = scheduler.armed
                assert len(armed) == 1
                assert armed[0].delay <= CANCEL_FOLLOW_DELAY_S, scheduler.delays[first_timer:]
                await harness.poll_once(pilot, detail.loop, scheduler)
            assert detail.job["status"] == "cancelled"
            await harness.wait_for(
                pilot,
                lambda: (
                    "Job " in harness.screen_text(app) and "cancelled" in harness.screen_text(app)
                ),
            )


async def test_progress_never_reads_as_a_contradiction(daemon, make_app, media_cache, tmp_path):
    library = build_library(tmp_path / "library", media_cache)
    job = harness.submit_scan(daemon.url, str(library.root))
    harness.wait_daemon(lambda: harness.get_job(daemon.url, job["id"])["status"] == "completed")
    app = make_app(daemon.url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await harness.jobs_screen(pilot, app)
        screen.open_detail(job["id"])
        await harness.detail_screen(pilot, app)
        text = await harness.wait_for(
            pilot,
            lambda: (
                (t := harness.screen_text(app)) and "% overall" in t and "files done" in t and t
            ),
        )
        assert "100% overall" in text
