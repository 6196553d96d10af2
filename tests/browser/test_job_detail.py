"""The job detail page in headless Chromium against a real daemon: live fields and progress, the
log tail (growing, "load earlier", auto-scroll), the stop at a terminal state, a deleted job.

The job is run by this test process through the daemon's store and a real job log file, exactly
as a foreground `vpo scan` in another process would, so each step is under the test's control.
"""

from __future__ import annotations

import sqlite3

from playwright.sync_api import Page

from tests.browser.page_tools import FETCH_LOG, wait_for
from tests.support.daemon import DaemonProcess
from vpo.joblog import JobLog
from vpo.jobs import COMPLETED, FAILED, RUNNING

LIVE_TIMEOUT = 10.0


def log_lines(page: Page) -> list[str]:
    return page.eval_on_selector_all("#job-log .log-line", "ls => ls.map(l => l.textContent)")


def field(page: Page, name: str) -> str:
    return page.text_content(f'[data-field="{name}"]')


def fetch_count(page: Page) -> int:
    return page.evaluate("window.__fetches.length")


def test_fields_progress_and_error_follow_the_job(page: Page, web_daemon: DaemonProcess, store):
    job = store.create_job("scan", "/media/tv", status=RUNNING)
    page.goto(f"{web_daemon.url}/jobs/{job.id}")
    assert field(page, "id") == job.id
    assert field(page, "status") == "running"
    # Total unknown: an indeterminate bar.
    assert page.get_attribute("#job-progress", "value") is None
    assert page.is_visible("#job-progress")
    assert page.is_hidden("#job-error")

    store.update_progress(job.id, phase="discover", processed=3)
    wait_for(page, lambda: field(page, "files") == "3 files so far", LIVE_TIMEOUT)
    assert field(page, "phase") == "discover"
    assert page.get_attribute("#job-progress", "value") is None

    store.update_progress(job.id, phase="probe", processed=25, total=100, percent=25.0)
    wait_for(page, lambda: field(page, "files") == "25 of 100 files", LIVE_TIMEOUT)
    assert field(page, "progress_text") == "25%"
    assert page.get_attribute("#job-progress", "value") == "25"

    store.finish_job(job.id, FAILED, error_message="Disk <b>vanished</b>")
    wait_for(page, lambda: field(page, "status") == "failed", LIVE_TIMEOUT)
    assert page.is_visible("#job-error")
    assert field(page, "error_message") == "Disk <b>vanished</b>"
    assert page.locator("#job-error b").count() == 0
    assert field(page, "completed_at") != "\u2014"
    assert page.text_content("#connection-status .connection-text") == (
        "Job failed \u00b7 updates stopped"
    )


def test_log_grows_final_lines_arrive_and_polling_stops(
    page: Page, web_daemon: DaemonProcess, store
):
    """Uses Playwright's fake clock (page.clock): proving that nothing is requested after the job
    ended needs time to pass, which a test may not sleep through. The network stays real."""
    job = store.create_job("scan", "/media/tv", status=RUNNING)
    log = JobLog(store.logs_dir, job.id)
    log.info("first line")
    page.add_init_script(FETCH_LOG)
    page.clock.install()
    page.goto(f"{web_daemon.url}/jobs/{job.id}")
    # From here on page time moves only when the test says so.
    page.clock.pause_at((page.evaluate("Date.now()") + 100) / 1000)  # seconds
    assert [line.split(" ", 1)[1].strip() for line in log_lines(page)] == ["INFO  first line"]
    # Both pollers fetch once at start; let those answers land.
    wait_for(page, lambda: page.get_attribute("#refresh-indicator", "data-busy") == "false")

    for n in range(2, 5):
        log.info(f"line {n}")
        page.clock.run_for(2000)
        wait_for(page, lambda n=n: len(log_lines(page)) == n, LIVE_TIMEOUT, f"line {n} missing")
    assert log_lines(page)[-1].endswith("line 4")
    assert page.text_content("#log-range") == "Lines 1\u20134"

    # The last lines are written just before the job ends: the final fetch must bring them.
    log.info("last words")
    log.close()
    store.finish_job(job.id, COMPLETED, summary_raw={"found": 4, "scanned": 4})
    page.clock.run_for(2000)
    wait_for(page, lambda: field(page, "status") == "completed", LIVE_TIMEOUT)
    wait_for(page, lambda: log_lines(page)[-1].endswith("last words"), LIVE_TIMEOUT)
    wait_for(
        page,
        lambda: "updates stopped" in page.text_content("#connection-status"),
        LIVE_TIMEOUT,
    )
    assert len(log_lines(page)) == 5  # nothing twice
    assert field(page, "progress_text") == "100%"

    settled = fetch_count(page)
    page.clock.run_for(10 * 60 * 1000)
    page.evaluate("0")
    assert fetch_count(page) == settled, page.evaluate("window.__fetches.slice(-5)")


def test_load_earlier_and_auto_scroll_only_at_the_bottom(
    page: Page, web_daemon: DaemonProcess, store
):
    job = store.create_job("scan", "/media/big", status=RUNNING)
    log = JobLog(store.logs_dir, job.id)
    for n in range(1, 251):
        log.info(f"line {n}")
    page.goto(f"{web_daemon.url}/jobs/{job.id}")
    # The newest 200 lines, scrolled to the end.
    lines = log_lines(page)
    assert len(lines) == 200 and lines[0].endswith("line 51") and lines[-1].endswith("line 250")
    at_bottom = (
        "(() => { const b = document.getElementById('job-log');"
        " return b.scrollHeight - b.scrollTop - b.clientHeight < 4; })()"
    )
    assert page.evaluate(at_bottom)

    # At the bottom: new lines are followed.
    log.info("line 251")
    wait_for(page, lambda: log_lines(page)[-1].endswith("line 251"), LIVE_TIMEOUT)
    assert page.evaluate(at_bottom)

    # Scrolled up to read: new lines arrive but the view stays where the reader is.
    page.evaluate("document.getElementById('job-log').scrollTop = 100")
    log.info("line 252")
    wait_for(page, lambda: log_lines(page)[-1].endswith("line 252"), LIVE_TIMEOUT)
    assert page.evaluate("document.getElementById('job-log').scrollTop") == 100

    # Load earlier: the missing 50 lines go on top; the lines being read do not jump.
    offset_in_box = """(i) => {
        const box = document.getElementById('job-log');
        const line = box.querySelectorAll('.log-line')[i];
        return line.getBoundingClientRect().top - box.getBoundingClientRect().top;
    }"""
    top_before = page.evaluate(offset_in_box, 10)  # "line 61" while lines 51.. are loaded
    page.click("#log-earlier")
    wait_for(page, lambda: len(log_lines(page)) == 252, LIVE_TIMEOUT)
    assert log_lines(page)[0].endswith("line 1")
    assert [line.split()[-1] for line in log_lines(page)] == [str(n) for n in range(1, 253)]
    assert abs(page.evaluate(offset_in_box, 60) - top_before) <= 1
    assert page.is_hidden("#log-earlier")
    log.close()


def test_a_deleted_job_says_it_no_longer_exists(page: Page, web_daemon: DaemonProcess, store):
    job = store.create_job("scan", "/media/tv", status=RUNNING)
    page.goto(f"{web_daemon.url}/jobs/{job.id}")
    assert field(page, "status") == "running"

    # Gone from the database (the API has no delete; retention only removes finished jobs),
    # with the store's change counter bumped as every job write does.
    with sqlite3.connect(web_daemon.data_dir / "vpo.db") as db:
        db.execute("DELETE FROM jobs WHERE id = ?", (job.id,))
        db.execute("UPDATE meta SET value = value + 1 WHERE key = 'change_counter'")

    wait_for(
        page,
        lambda: page.text_content("main h1") == "This job no longer exists",
        LIVE_TIMEOUT,
    )
    assert page.locator("#job-detail").count() == 0
    assert "updates stopped" in page.text_content("#connection-status")
    page.click("text=Back to all jobs")
    page.wait_for_url("**/jobs")


def test_unknown_job_address_is_a_404_page_with_a_way_back(page: Page, web_daemon: DaemonProcess):
    response = page.goto(f"{web_daemon.url}/jobs/00000000-0000-4000-8000-000000000000")
    assert response.status == 404
    assert page.text_content("main h1") == "This job no longer exists"
    assert page.get_attribute("main a", "href") == "/jobs"
    assert page.goto(f"{web_daemon.url}/jobs/not-a-uuid").status == 404
