"""Acting from the list, against a real daemon: `n` (the New scan dialog with completion from
`/api/browse`), `R` (retry, with a confirmation), `y` (copy the id), and the counters line.

Every request is real HTTP; only when polls fire is in the test's hands (manual schedulers).
"""

from __future__ import annotations

import httpx
import pytest
from textual.widgets import Input, Switch

from tests.tui import harness
from tests.tui.conftest import running
from tests.tui.harness import ManualScheduler, jobs_screen, screen_text, wait_for
from vpo.store import JobStore
from vpo_tui.screens.confirm import ConfirmScreen
from vpo_tui.screens.new_scan import NewScanScreen


@pytest.fixture
def library(tmp_path):
    root = tmp_path / "media"
    for folder in ("tv/show", "music", "musicals", "movies", ".hidden"):
        (root / folder).mkdir(parents=True)
    return root


@pytest.fixture
def rooted(daemon_factory, library):
    return daemon_factory(config={"scan": {"roots": [str(library)]}}).start()


def seed_failed(daemon, path) -> str:
    """A failed scan job, written into the daemon's database the way a foreground scan shares
    it (created running and owned by this live process, so the worker never takes it)."""
    with JobStore(daemon.data_dir) as store:
        job = store.create_job(
            "scan", str(path), params={"paths": [str(path)], "full": False}, status="running"
        )
        store.finish_job(job.id, "failed", error_message="the disk went away")
    return job.id


async def open_new_scan(pilot, app) -> NewScanScreen:
    await pilot.press("n")
    dialog = await wait_for(pilot, lambda: isinstance(app.screen, NewScanScreen) and app.screen)
    await wait_for(pilot, lambda: dialog.roots is not None, message="roots never loaded")
    return dialog  # type: ignore[return-value]


async def test_new_scan_completes_from_browse_and_selects_the_new_job(rooted, make_app, library):
    app = make_app(rooted.url)
    async with running(app) as pilot:
        screen = await jobs_screen(pilot, app)
        dialog = await open_new_scan(pilot, app)
        box = dialog.query_one("#path", Input)
        assert str(library) in screen_text(app)  # the roots are offered
        await pilot.press("tab")  # empty: the one root
        await wait_for(pilot, lambda: box.value == f"{library}/")
        await pilot.press("t", "tab")  # one folder starts with t
        await wait_for(pilot, lambda: box.value == f"{library}/tv/")
        box.value = f"{library}/m"
        await pilot.press("tab")  # movies, music, musicals share only "m"
        await wait_for(pilot, lambda: "musicals" in screen_text(app))
        assert box.value == f"{library}/m"
        await pilot.press("u", "tab")  # music, musicals: to their shared "music"
        await wait_for(pilot, lambda: box.value == f"{library}/music")
        await pilot.press("tab")  # nothing more to share: cycles
        await wait_for(pilot, lambda: box.value == f"{library}/musicals")
        assert ".hidden" not in screen_text(app)
        await pilot.press("ctrl+e")  # to the end of the input
        dialog.query_one("#full", Switch).value = True
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, NewScanScreen))
        jobs = httpx.get(f"{rooted.url}/api/jobs").json()["jobs"]
        assert len(jobs) == 1 and jobs[0]["file_path"] == f"{library}/musicals"
        new_id = jobs[0]["id"]
        await wait_for(pilot, lambda: screen.table.cursor_job_id == new_id)
    with httpx.Client(base_url=rooted.url) as http:
        assert http.get(f"/api/jobs/{new_id}").json()["id"] == new_id
    with JobStore(rooted.data_dir) as store:
        assert store.get_job(new_id).params["full"] is True


async def test_new_scan_shows_the_daemons_refusal_inside_the_dialog(rooted, make_app, tmp_path):
    outside = tmp_path / "private"
    outside.mkdir()
    app = make_app(rooted.url)
    async with running(app) as pilot:
        await jobs_screen(pilot, app)
        dialog = await open_new_scan(pilot, app)
        dialog.query_one("#path", Input).value = str(outside)
        await pilot.press("enter")
        error = dialog.query_one("#error")
        await wait_for(pilot, lambda: error.display, message="no error shown")
        text = screen_text(app)
        assert "is not under a scan root" in " ".join(text.split())
        assert isinstance(app.screen, NewScanScreen)  # still open, to fix the path
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, NewScanScreen))
    assert httpx.get(f"{rooted.url}/api/jobs").json()["total"] == 0


async def test_new_scan_without_roots_says_so_and_still_submits(daemon, make_app, tmp_path):
    target = tmp_path / "anywhere"
    target.mkdir()
    app = make_app(daemon.url)
    async with running(app) as pilot:
        screen = await jobs_screen(pilot, app)
        dialog = await open_new_scan(pilot, app)
        await wait_for(pilot, lambda: "no scan roots" in screen_text(app))
        dialog.query_one("#path", Input).value = str(target)
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, NewScanScreen))
        await wait_for(pilot, lambda: screen.table.cursor_job_id is not None)
        assert harness.get_job(daemon.url, screen.table.cursor_job_id)["file_path"] == str(target)


async def test_retry_asks_then_selects_the_new_job(daemon, make_app, tmp_path):
    older, newer = tmp_path / "older", tmp_path / "newer"
    older.mkdir()
    newer.mkdir()
    first = harness.submit_scan(daemon.url, str(older))
    harness.wait_daemon(lambda: harness.get_job(daemon.url, first["id"])["status"] == "completed")
    second = {"id": seed_failed(daemon, newer)}
    app = make_app(daemon.url)
    async with running(app) as pilot:
        screen = await jobs_screen(pilot, app)
        await wait_for(pilot, lambda: len(screen.table.job_ids) == 2)
        # The cursor starts on the newest (the failed one): R offers a retry.
        assert screen.table.cursor_job_id == second["id"]
        assert screen.check_action("retry_job", ())
        await pilot.press("R")
        confirm = await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert confirm and "Retry this job?" in screen_text(app)
        await pilot.press("n")  # no: nothing is queued
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert httpx.get(f"{daemon.url}/api/jobs").json()["total"] == 2
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: len(screen.table.job_ids) == 3)
        retried = next(j for j in screen.table.job_ids if j not in (first["id"], second["id"]))
        await wait_for(pilot, lambda: screen.table.cursor_job_id == retried)
        assert harness.get_job(daemon.url, retried)["retry_of"] == second["id"]
        # A completed job: R is not offered, and pressing it asks nothing.
        await pilot.press("end")
        await wait_for(pilot, lambda: screen.table.cursor_job_id == first["id"])
        assert not screen.check_action("retry_job", ())
        await pilot.press("R")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, ConfirmScreen)


@pytest.mark.parametrize("osc52", [False, True])
async def test_y_copies_the_id_only_when_osc52_is_on(daemon, make_app, tmp_path, osc52):
    target = tmp_path / "lib"
    target.mkdir()
    job = harness.submit_scan(daemon.url, str(target))
    app = make_app(daemon.url, osc52=osc52)
    # Notices on: run_test hides Textual's toasts unless asked.
    async with app.run_test(size=(120, 30), notifications=True) as pilot:
        screen = await jobs_screen(pilot, app)
        await wait_for(pilot, lambda: screen.table.cursor_job_id == job["id"])
        await pilot.press("y")
        await wait_for(
            pilot,
            lambda: job["id"] in "".join(screen_text(app).split()),
            message="the id was never shown",
        )
        assert (app.clipboard == job["id"]) is osc52
        assert ("Copy it by hand" in screen_text(app)) is not osc52


async def test_the_counters_line_polls_stats_with_its_own_etag(daemon, make_app, tmp_path):
    seed_failed(daemon, tmp_path)
    stats_timer = ManualScheduler()
    app = make_app(daemon.url, show_stats=True, stats_scheduler=stats_timer)
    async with running(app) as pilot:
        await jobs_screen(pilot, app)
        line = app.screen.query_one("#stats")
        await wait_for(pilot, lambda: line.loop.requests_finished >= 1)
        assert "▶ 0 running · 0 queued · ✗ 1 failed in 24 h" in screen_text(app)
        await harness.poll_once(pilot, line.loop, stats_timer)
        assert line.loop.poller.last_outcome == "not_modified"  # the tag matched: a 304
        assert app.client.sent["/api/stats"] == 2
        seed_failed(daemon, tmp_path)
        await harness.poll_once(pilot, line.loop, stats_timer)
        assert line.loop.poller.last_outcome == "ok"
        assert "✗ 2 failed in 24 h" in screen_text(app)
