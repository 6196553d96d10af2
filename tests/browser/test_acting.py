"""Acting where you watch (issue 10, web): the "New scan" form and its folder picker, Retry and
Cancel buttons, the counters above the list, the errors panel and the ETA on the detail page,
short ids in the address, and a bad view address. Headless Chromium against a real daemon.

Jobs are changed the way other VPO processes change them: through the API or through the job
store in the daemon's data dir (what a foreground `vpo scan` or the worker does).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, Page

from tests.browser.conftest import FAST_POLLING
from tests.browser.page_tools import wait_for
from tests.support.daemon import DaemonProcess
from vpo.jobs import CANCELLED, COMPLETED, FAILED, RUNNING
from vpo.store import JobStore

LIVE_TIMEOUT = 10.0


def row(page: Page, job_id: str, col: str):
    return page.locator(f'tr[data-job-id="{job_id}"] td[data-col="{col}"]')


def row_ids(page: Page) -> list[str]:
    return page.eval_on_selector_all(
        "#jobs-body tr[data-job-id]", "rs => rs.map(r => r.dataset.jobId)"
    )


def stat(page: Page, name: str) -> str:
    return page.text_content(f'#job-stats [data-stat="{name}"]')


def field(page: Page, name: str) -> str:
    return page.text_content(f'[data-field="{name}"]')


def accept_dialogs(page: Page) -> list[str]:
    """Accept every confirm() and keep its text (the page asks before it acts)."""
    asked: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", on_dialog)
    return asked


def finished_job(store: JobStore, path: str, status: str = COMPLETED) -> str:
    job = store.create_job("scan", path, status=RUNNING)
    store.finish_job(job.id, status, error_message="boom" if status == FAILED else None)
    return job.id


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """A scan root with folders to pick (empty, so their scans finish at once)."""
    root = tmp_path / "media"
    for folder in ("tv/season 1", "tv/season 2", "Movies", ".hidden"):
        (root / folder).mkdir(parents=True)
    return root


@pytest.fixture
def rooted(daemon_factory: Callable[..., DaemonProcess], library: Path) -> DaemonProcess:
    return daemon_factory(config={**FAST_POLLING, "scan": {"roots": [str(library)]}}).start()


@pytest.fixture
def rooted_store(rooted: DaemonProcess) -> Iterator[JobStore]:
    job_store = JobStore(rooted.data_dir)
    yield job_store
    job_store.close()


# --- New scan -------------------------------------------------------------------------------


def test_new_scan_with_the_folder_picker_queues_and_highlights_the_job(
    page: Page, rooted: DaemonProcess, rooted_store: JobStore, library: Path
):
    older = finished_job(rooted_store, str(library / "Movies"))
    page.goto(f"{rooted.url}/jobs")
    page.click("#new-scan summary")
    # The picker starts at the roots; the hidden folder is never listed.
    wait_for(page, lambda: page.is_visible("#folder-picker"), LIVE_TIMEOUT)
    assert page.text_content("#picker-where") == "Scan roots"
    page.click(f"#picker-list button:text-is('{library}')")
    wait_for(page, lambda: page.text_content("#picker-where") == str(library), LIVE_TIMEOUT)
    names = page.eval_on_selector_all("#picker-list button", "bs => bs.map(b => b.textContent)")
    assert names == ["Movies", "tv"]
    page.click("#picker-list button:text-is('tv')")
    wait_for(page, lambda: page.input_value("#scan-path") == str(library / "tv"), LIVE_TIMEOUT)
    page.click("#picker-list button:text-is('season 2')")
    wait_for(
        page,
        lambda: page.input_value("#scan-path") == str(library / "tv" / "season 2"),
        LIVE_TIMEOUT,
    )
    page.click("#picker-up")
    wait_for(page, lambda: page.input_value("#scan-path") == str(library / "tv"), LIVE_TIMEOUT)
    page.check("#scan-full")
    requests: list[str] = []
    page.on(
        "request",
        lambda r: (
            requests.append(r.url) if "/api/jobs?" in r.url or r.url.endswith("/api/jobs") else None
        ),
    )

    page.click("#scan-submit")

    wait_for(page, lambda: page.is_visible("#new-scan-done"), LIVE_TIMEOUT, "no confirmation")
    new_id = page.get_attribute("#new-scan-done a", "href").rsplit("/", 1)[1]
    # At once: the row is on top and highlighted as the confirmation shows, before any poll.
    assert row_ids(page)[:2] == [new_id, older]
    assert "just-queued" in page.get_attribute(f'tr[data-job-id="{new_id}"]', "class")
    assert row(page, new_id, "file_path").text_content() == str(library / "tv")
    job = rooted_store.get_job(new_id)
    assert job is not None and job.params.get("full") is True
    assert page.is_hidden("#new-scan-error")
    # Then the poll takes it from there (the empty folder's scan completes).
    wait_for(page, lambda: row(page, new_id, "status").text_content() == "completed", LIVE_TIMEOUT)
    assert row_ids(page)[:2] == [new_id, older]


def test_the_picker_sends_a_name_that_is_not_utf8_back_as_its_bytes(
    page: Page, rooted: DaemonProcess, rooted_store: JobStore, library: Path
):
    os.mkdir(os.fsencode(library) + b"/Am\xe9lie")
    page.goto(f"{rooted.url}/jobs")
    page.click("#new-scan summary")
    page.click(f"#picker-list button:text-is('{library}')")
    shown = "Am\\xe9lie"  # the escaped form, as text
    entry = page.locator("#picker-list button").filter(has_text=shown)
    wait_for(page, lambda: entry.count() == 1, LIVE_TIMEOUT, "the folder was not listed")
    assert entry.text_content() == shown
    entry.click()
    wait_for(page, lambda: page.input_value("#scan-path") == f"{library}/{shown}", LIVE_TIMEOUT)
    page.click("#scan-submit")
    wait_for(page, lambda: page.is_visible("#new-scan-done"), LIVE_TIMEOUT, "no confirmation")
    new_id = page.get_attribute("#new-scan-done a", "href").rsplit("/", 1)[1]
    assert rooted_store.get_job(new_id).file_path == os.fsdecode(
        os.fsencode(library) + b"/Am\xe9lie"
    )
    assert page.is_hidden("#new-scan-error")


def test_new_scan_shows_the_daemons_refusal_in_the_form(
    page: Page, rooted: DaemonProcess, library: Path, tmp_path: Path
):
    outside = tmp_path / "private"
    outside.mkdir()
    page.goto(f"{rooted.url}/jobs")
    page.click("#new-scan summary")
    page.fill("#scan-path", str(outside))
    page.click("#scan-submit")
    wait_for(page, lambda: page.is_visible("#new-scan-error"), LIVE_TIMEOUT)
    message = page.text_content("#new-scan-error")
    assert message == (f"{outside} is not under a scan root of this daemon ({library})."), message
    assert page.get_attribute("#scan-path", "aria-invalid") == "true"
    assert row_ids(page) == []
    # An empty field is refused before asking the daemon.
    page.fill("#scan-path", "")
    page.click("#scan-submit")
    assert page.text_content("#new-scan-error") == "Choose or type the folder to scan."


def test_without_roots_the_form_takes_a_typed_path_with_a_hint_and_passes_auth(
    browser: Browser, daemon_factory: Callable[..., DaemonProcess], scan_root: Path
):
    token = "s" * 24
    daemon = daemon_factory(token=token, config=FAST_POLLING).start()
    context = browser.new_context(http_credentials={"username": "vpo", "password": token})
    try:
        page = context.new_page()
        statuses: list[int] = []
        page.on("response", lambda r: statuses.append(r.status) if "/api/" in r.url else None)
        page.goto(f"{daemon.url}/jobs")
        page.click("#new-scan summary")
        wait_for(page, lambda: "[scan] roots" in page.text_content("#scan-path-hint"), LIVE_TIMEOUT)
        assert page.is_hidden("#folder-picker")

        page.fill("#scan-path", str(scan_root / "missing"))
        page.click("#scan-submit")
        wait_for(page, lambda: page.is_visible("#new-scan-error"), LIVE_TIMEOUT)
        assert "path" in page.text_content("#new-scan-error")

        page.fill("#scan-path", str(scan_root))
        page.click("#scan-submit")
        wait_for(page, lambda: page.is_visible("#new-scan-done"), LIVE_TIMEOUT)
        assert page.is_hidden("#new-scan-error")
        assert len(row_ids(page)) == 1
        assert 401 not in statuses and 403 not in statuses, statuses
    finally:
        context.close()


# --- Retry and Cancel -----------------------------------------------------------------------


def test_retry_from_the_list_menu(page: Page, web_daemon: DaemonProcess, store: JobStore):
    done = finished_job(store, "/media/fine")
    failed = finished_job(store, "/media/broken", FAILED)
    page.goto(f"{web_daemon.url}/jobs")
    asked = accept_dialogs(page)
    assert page.locator(f'tr[data-job-id="{done}"] [data-action="retry"]').is_hidden()

    page.click(f'tr[data-job-id="{failed}"] summary')
    page.click(f'tr[data-job-id="{failed}"] [data-action="retry"]')

    wait_for(page, lambda: len(row_ids(page)) == 3, LIVE_TIMEOUT, "the retry never showed")
    new_id = row_ids(page)[0]
    assert asked and "again" in asked[0]
    assert "just-queued" in page.get_attribute(f'tr[data-job-id="{new_id}"]', "class")
    with web_daemon.client() as http:
        assert http.get(f"/api/jobs/{new_id}").json()["retry_of"] == failed
    assert page.locator("#poll-problem").count() == 0


def test_detail_page_cancel_then_retry(page: Page, web_daemon: DaemonProcess, store: JobStore):
    job = store.create_job("scan", "/media/tv", status=RUNNING)
    page.goto(f"{web_daemon.url}/jobs/{job.id}")
    asked = accept_dialogs(page)
    assert page.is_visible("#job-cancel")
    assert page.is_hidden("#job-retry")

    page.click("#job-cancel")
    wait_for(page, lambda: page.is_visible("#job-action-done"), LIVE_TIMEOUT)
    assert asked == [f"Cancel job {job.id_short}?"]
    assert store.cancel_requested(job.id)
    # The runner stops at its next file: here the test ends the job the way it would.
    store.finish_job(job.id, CANCELLED)
    wait_for(page, lambda: page.is_visible("#job-retry"), LIVE_TIMEOUT, "no Retry button")
    assert page.is_hidden("#job-cancel")

    page.click("#job-retry")
    wait_for(page, lambda: page.locator("#job-action-done a").count() == 1, LIVE_TIMEOUT)
    new_id = page.get_attribute("#job-action-done a", "href").rsplit("/", 1)[1]
    assert store.get_job(new_id).retry_of == job.id
    page.click("#job-action-done a")
    page.wait_for_url(f"**/jobs/{new_id}")
    assert page.get_attribute("#retry-of", "href") == f"/jobs/{job.id}"


def test_a_refused_retry_shows_the_daemons_message(
    page: Page, rooted: DaemonProcess, rooted_store: JobStore
):
    # Queued when the daemon had no roots, outside the roots it has now: 403 on retry.
    failed = finished_job(rooted_store, "/somewhere/else", FAILED)
    page.goto(f"{rooted.url}/jobs/{failed}")
    accept_dialogs(page)
    page.click("#job-retry")
    wait_for(page, lambda: page.is_visible("#job-action-problem"), LIVE_TIMEOUT)
    assert "/somewhere/else" in page.text_content("#job-action-problem")
    assert page.is_hidden("#job-action-done")


# --- Counters -------------------------------------------------------------------------------


def test_counters_follow_the_jobs_with_etags(page: Page, web_daemon: DaemonProcess, store):
    finished_job(store, "/media/old-failure", FAILED)
    answers: list[tuple[int, str | None]] = []
    page.on(
        "response",
        lambda r: (
            answers.append((r.status, r.request.headers.get("if-none-match")))
            if r.url.endswith("/api/stats")
            else None
        ),
    )
    page.goto(f"{web_daemon.url}/jobs")
    assert (stat(page, "running"), stat(page, "queued"), stat(page, "failed")) == ("0", "0", "1")

    job = store.create_job("scan", "/media/tv", status=RUNNING)
    wait_for(page, lambda: stat(page, "running") == "1", LIVE_TIMEOUT, "running never counted")
    store.finish_job(job.id, FAILED, error_message="boom")
    wait_for(page, lambda: stat(page, "failed") == "2", LIVE_TIMEOUT, "failure never counted")
    assert stat(page, "running") == "0"
    wait_for(page, lambda: any(status == 304 for status, _ in answers), LIVE_TIMEOUT)
    assert all(tag for status, tag in answers if status == 304)


# --- Errors panel and ETA -------------------------------------------------------------------


def test_errors_panel_grows_while_the_scan_runs_and_pages(
    page: Page, web_daemon: DaemonProcess, store: JobStore
):
    job = store.create_job("scan", "/media/tv", status=RUNNING)
    page.goto(f"{web_daemon.url}/jobs/{job.id}")
    assert page.text_content("#errors-count") == "No file errors"

    store.record_file_errors(job.id, [("/media/tv/<img src=x>.mkv", "cannot <b>read</b>")])
    wait_for(page, lambda: page.locator("#errors-list li").count() == 1, LIVE_TIMEOUT)
    assert page.text_content("#errors-list .error-path") == "/media/tv/<img src=x>.mkv"
    assert page.text_content("#errors-list .error-message") == "cannot <b>read</b>"
    assert page.locator("#errors-list img, #errors-list b").count() == 0
    assert page.text_content("#errors-count") == "1 file error"

    store.record_file_errors(
        job.id, [(f"/media/tv/e{n:02}.mkv", "probe failed") for n in range(60)]
    )
    wait_for(page, lambda: page.text_content("#errors-count") == "Showing 50 of 61 file errors")
    assert page.locator("#errors-list li").count() == 50
    page.click("#errors-more")
    wait_for(page, lambda: page.locator("#errors-list li").count() == 61, LIVE_TIMEOUT)
    assert page.text_content("#errors-count") == "61 file errors"
    assert page.is_hidden("#errors-more")
    last = page.eval_on_selector_all("#errors-list .error-path", "ps => ps.map(p => p.textContent)")
    assert last[-1] == "/media/tv/e59.mkv" and len(set(last)) == 61  # in order, none twice


def test_eta_shows_once_the_rate_is_steady_and_hides_when_done(
    page: Page, web_daemon: DaemonProcess, store: JobStore
):
    job = store.create_job("scan", "/media/tv", status=RUNNING)
    store.update_progress(job.id, phase="probe", processed=0, total=1000, percent=0.0)
    seen: list[int] = []
    page.on("response", lambda r: seen.append(r.status) if r.url.endswith(job.id) else None)
    page.goto(f"{web_daemon.url}/jobs/{job.id}")
    assert page.is_hidden("#job-eta")

    # Move steadily, one step per poll the page makes: a steady rate.
    done = 0
    for _ in range(12):
        polls = len(seen)
        wait_for(page, lambda polls=polls: len(seen) > polls, LIVE_TIMEOUT, "no poll")
        if page.is_visible("#job-eta"):
            break
        done += 20
        store.update_progress(job.id, phase="probe", processed=done, total=1000, percent=done / 10)
    assert page.is_visible("#job-eta"), "the ETA never showed"
    assert done >= 60, "shown before three rates"  # MIN_RATES samples after the first
    assert page.text_content('#job-eta [data-eta="eta"]').endswith(" left")
    assert "file" in page.text_content('#job-eta [data-eta="rate"]')

    store.finish_job(job.id, COMPLETED, summary_raw={"found": 1000})
    wait_for(page, lambda: field(page, "status") == "completed", LIVE_TIMEOUT)
    assert page.is_hidden("#job-eta")


# --- Addresses ------------------------------------------------------------------------------


def test_a_short_id_redirects_and_an_ambiguous_one_lists_the_jobs(
    page: Page, web_daemon: DaemonProcess, store: JobStore
):
    first = finished_job(store, "/media/one")
    second = finished_job(store, "/media/two")
    with sqlite3.connect(web_daemon.data_dir / "vpo.db") as db:
        for job_id in (first, second):
            db.execute("UPDATE jobs SET id = 'abcd' || substr(id, 5) WHERE id = ?", (job_id,))
    first, second = "abcd" + first[4:], "abcd" + second[4:]

    response = page.goto(f"{web_daemon.url}/jobs/{first[:8].upper()}")
    assert response.status == 200
    assert page.url.endswith(f"/jobs/{first}")
    assert field(page, "id") == first
    assert response.request.redirected_from.response().status == 302

    # A full id in capitals (copied from somewhere that shouts) goes to the job too.
    page.goto(f"{web_daemon.url}/jobs/{second.upper()}")
    assert page.url.endswith(f"/jobs/{second}")

    response = page.goto(f"{web_daemon.url}/jobs/abcd")
    assert response.status == 300
    assert "Several jobs" in page.text_content("main h1")
    links = page.eval_on_selector_all("#ambiguous-list a", "as => as.map(a => a.textContent)")
    assert sorted(links) == sorted([first, second])

    for too_short in ("abc", "a", "zzzz"):
        response = page.goto(f"{web_daemon.url}/jobs/{too_short}")
        assert response.status == 404, too_short
        assert page.text_content("main h1") == "This job no longer exists"


def test_a_bad_status_filter_shows_one_message_and_keeps_polling(
    page: Page, web_daemon: DaemonProcess, store: JobStore
):
    older = finished_job(store, "/media/older")
    response = page.goto(f"{web_daemon.url}/jobs?status=bogus")
    assert response.status == 400
    assert "'status' must be one of" in page.text_content("#query-error")
    assert "all jobs are shown" in page.text_content("#query-error")
    # The whole list instead, live, and an address that says so.
    assert row_ids(page) == [older]
    assert page.url == f"{web_daemon.url}/jobs"
    assert page.input_value("select[name=status]") == ""
    assert "No jobs" not in page.text_content("#jobs-count")

    newer = store.create_job("scan", "/media/newer", status=RUNNING)
    wait_for(page, lambda: row_ids(page) == [newer.id, older], LIVE_TIMEOUT, "polling stopped")
    assert page.text_content("#connection-status .connection-text") == "Connected"
    assert page.locator("main .notice").count() == 1
