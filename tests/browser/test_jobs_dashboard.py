"""The jobs dashboard in headless Chromium against a real daemon: the checks of docs/design.md §9
(live status, new jobs, filters, scroll, progress) and the §7 rules about what a poll may touch.

Jobs change the way other VPO processes change them: a scan submitted with `POST /api/jobs`, or a
job written through the store in the daemon's data dir (a foreground `vpo scan` does that).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from playwright.sync_api import Page

from tests.browser.page_tools import ApiRequests, MutationCounter, wait_for
from tests.support.daemon import DaemonProcess
from vpo.jobs import COMPLETED, FAILED, RUNNING
from vpo.store import JobStore

# Polls at 2 s: anything the page must pick up arrives within a few polls.
LIVE_TIMEOUT = 10.0


def row(page: Page, job_id: str, col: str):
    return page.locator(f'tr[data-job-id="{job_id}"] td[data-col="{col}"]')


def row_ids(page: Page) -> list[str]:
    return page.eval_on_selector_all(
        "#jobs-body tr[data-job-id]", "rs => rs.map(r => r.dataset.jobId)"
    )


def finished_job(store: JobStore, path: str, status: str = COMPLETED) -> str:
    job = store.create_job("scan", path, status=RUNNING)
    store.finish_job(job.id, status, error_message="boom" if status == FAILED else None)
    return job.id


def test_status_change_appears_without_reload(page: Page, web_daemon: DaemonProcess, store):
    job = store.create_job("scan", "/media/tv", status=RUNNING)
    page.goto(f"{web_daemon.url}/jobs")
    assert row(page, job.id, "status").text_content() == "running"
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    page.evaluate("window.__noReloadMarker = 'still here'")

    store.finish_job(job.id, COMPLETED, summary_raw={"found": 0})

    wait_for(
        page,
        lambda: row(page, job.id, "status").text_content() == "completed",
        LIVE_TIMEOUT,
        "status change never reached the page",
    )
    assert page.evaluate("window.__noReloadMarker") == "still here"
    assert navigations == []
    assert row(page, job.id, "progress").text_content().strip() == "100%"
    assert row(page, job.id, "status").locator(".badge").get_attribute("class") == (
        "badge badge-completed"
    )
    assert page.get_attribute("#connection-status", "data-state") == "connected"


def test_job_created_by_another_process_appears(
    page: Page, web_daemon: DaemonProcess, store, scan_root: Path
):
    older = finished_job(store, "/media/older")
    page.goto(f"{web_daemon.url}/jobs")
    assert row_ids(page) == [older]
    page.evaluate("window.__noReloadMarker = 1")

    with web_daemon.client() as http:
        response = http.post("/api/jobs", json={"job_type": "scan", "path": str(scan_root)})
    assert response.status_code == 201
    new_id = response.json()["id"]

    # Newest first (the default sort): the new job is inserted above the older one.
    wait_for(page, lambda: row_ids(page) == [new_id, older], LIVE_TIMEOUT, "new job never appeared")
    assert row(page, new_id, "file_path").text_content() == str(scan_root)
    wait_for(page, lambda: row(page, new_id, "status").text_content() == "completed", LIVE_TIMEOUT)
    assert page.text_content("#jobs-count") == "Showing 1\u20132 of 2 jobs"
    assert page.evaluate("window.__noReloadMarker") == 1


def test_filters_sort_and_page_live_in_the_url_and_survive_polls(
    page: Page, web_daemon: DaemonProcess, store
):
    for n in range(3):
        finished_job(store, f"/media/tv/show{n}")
    finished_job(store, "/media/tv/broken", FAILED)
    finished_job(store, "/media/movies/film")
    requests = ApiRequests(page)
    view = "status=completed&search=tv&sort=file_path&order=asc&limit=2"
    page.goto(f"{web_daemon.url}/jobs?{view}")

    paths = lambda: page.eval_on_selector_all(  # noqa: E731
        "#jobs-body tr[data-job-id] td[data-col=file_path]", "cs => cs.map(c => c.textContent)"
    )
    assert paths() == ["/media/tv/show0", "/media/tv/show1"]
    assert page.text_content("#jobs-count") == "Showing 1\u20132 of 3 jobs"
    assert page.input_value("select[name=status]") == "completed"
    assert page.input_value("input[name=search]") == "tv"
    assert page.get_attribute("th[aria-sort]", "aria-sort") == "ascending"
    page.click("#page-next")
    page.wait_for_url("**/jobs?*offset=2*")
    assert paths() == ["/media/tv/show2"]
    page.click("#page-prev")
    page.wait_for_url(lambda url: "offset" not in url)

    # The user is typing in the search box while polls arrive: nothing they did is lost.
    page.fill("input[name=search]", "tv/sh")
    page.focus("input[name=search]")
    matching = finished_job(store, "/media/tv/a-new-one")  # sorts first: shows up on page 1
    finished_job(store, "/media/other/new")  # does not match the filter
    wait_for(page, lambda: paths() == ["/media/tv/a-new-one", "/media/tv/show0"], LIVE_TIMEOUT)
    assert page.text_content("#jobs-count") == "Showing 1\u20132 of 4 jobs"
    assert page.input_value("input[name=search]") == "tv/sh"
    assert page.evaluate("document.activeElement.name") == "search"
    assert page.input_value("select[name=status]") == "completed"
    assert matching in row_ids(page)
    # Every poll asked the view's own question.
    polls = requests.matching("/api/jobs?")
    assert polls and all(
        url.endswith("/api/jobs?status=completed&search=tv&sort=file_path&order=asc&limit=2")
        for url in polls
    ), polls


def test_scroll_position_focus_and_open_menu_survive_polls(
    page: Page, web_daemon: DaemonProcess, store
):
    for n in range(40):
        finished_job(store, f"/media/library/{n:02d}")
    running = store.create_job("scan", "/media/library/zz-running", status=RUNNING)
    page.set_viewport_size({"width": 1000, "height": 500})
    page.goto(f"{web_daemon.url}/jobs?sort=file_path&order=asc")
    # A keyboard user is on a row link, and the running job's menu is open.
    page.locator(f'tr[data-job-id="{running.id}"] summary').click()
    page.locator("#jobs-body tr[data-job-id]").nth(30).locator("a").first.focus()
    focused_id = page.evaluate("document.activeElement.closest('tr').dataset.jobId")
    page.evaluate("window.scrollTo(0, 600)")
    anchor_id = page.evaluate(
        "document.elementFromPoint(500, 300).closest('tr[data-job-id]').dataset.jobId"
    )
    anchor = page.locator(f'tr[data-job-id="{anchor_id}"]')
    anchor_top = anchor.bounding_box()["y"]
    scroll_before = page.evaluate("window.scrollY")

    store.update_progress(running.id, processed=5, total=10, percent=50.0)
    finished_job(store, "/media/library/00-new")  # inserted near the top, above the viewport

    wait_for(
        page,
        lambda: row(page, running.id, "progress").text_content().strip() == "50%",
        LIVE_TIMEOUT,
    )
    wait_for(page, lambda: len(row_ids(page)) == 42, LIVE_TIMEOUT)
    # The rows on screen did not move: jobs.js keeps the row being read in place when a row
    # is inserted above it (every engine alike, WebKit has no scroll anchoring of its own).
    assert abs(anchor.bounding_box()["y"] - anchor_top) <= 1
    assert page.evaluate("window.scrollY") >= scroll_before  # anchoring only ever adds the new row
    assert page.evaluate("document.activeElement.closest('tr').dataset.jobId") == focused_id
    assert page.locator(f'tr[data-job-id="{running.id}"] details').get_attribute("open") == ""


def test_progress_percentage_moves_and_unknown_total_is_indeterminate(
    page: Page, web_daemon: DaemonProcess, store
):
    job = store.create_job("scan", "/media/tv", status=RUNNING)
    page.goto(f"{web_daemon.url}/jobs")
    progress = row(page, job.id, "progress")
    # Running without a known total: an indeterminate bar (no value attribute).
    assert progress.locator("progress").get_attribute("value") is None
    assert progress.locator("progress").is_visible()
    seen = []
    for percent in (10.0, 45.5, 80.0):
        store.update_progress(
            job.id, phase="probe", processed=int(percent), total=100, percent=percent
        )
        expected = f"{int(percent)}%"
        wait_for(page, lambda e=expected: progress.text_content().strip() == e, LIVE_TIMEOUT)
        seen.append(progress.locator("progress").get_attribute("value"))
    assert seen == ["10", "45", "80"]


def test_only_changed_cells_are_touched_by_a_poll(
    page: Page, web_daemon: DaemonProcess, store, capsys
):
    """50 jobs on the page, 1 of them changes: count what each poll mutates."""
    for n in range(49):
        finished_job(store, f"/media/library/{n:02d}")
    running = store.create_job("scan", "/media/library/running", status=RUNNING)
    store.update_progress(running.id, processed=1, total=100, percent=1.0)
    responses: list[int] = []
    page.on("response", lambda r: responses.append(r.status) if "/api/jobs" in r.url else None)
    page.goto(f"{web_daemon.url}/jobs")
    assert len(row_ids(page)) == 50
    counter = MutationCounter(page, "#jobs-table")

    per_poll = []
    for step in range(3):
        counter.take()
        before = len(responses)
        store.update_progress(running.id, processed=10 * (step + 2), percent=10.0 * (step + 2))
        expected = f"{10 * (step + 2)}%"
        wait_for(
            page,
            lambda e=expected: row(page, running.id, "progress").text_content().strip() == e,
            LIVE_TIMEOUT,
        )
        assert responses[before:] and responses[-1] == 200
        per_poll.append(counter.take())

    for records in per_poll:
        # Only the changed job's row, and only its cells: no row added, removed or moved.
        assert {r["row"] for r in records} == {running.id}, records
        assert all(r["added"] <= 1 and r["removed"] <= 1 for r in records), records
        assert 1 <= len(records) <= 4, records

    # Once nothing changes the daemon answers 304 and the table is not touched at all.
    store.finish_job(running.id, COMPLETED)
    wait_for(
        page, lambda: row(page, running.id, "status").text_content() == "completed", LIVE_TIMEOUT
    )
    counter.take()
    settled = len(responses)
    wait_for(page, lambda: responses[settled:].count(304) >= 2, LIVE_TIMEOUT)
    idle_records = counter.take()
    assert idle_records == []
    with capsys.disabled():
        counts = [len(records) for records in per_poll]
        kinds = sorted({f"{r['type']}:{r['attribute'] or ''}" for rs in per_poll for r in rs})
        print(
            f"\n[mutation counts] 1 changed job of 50: records per poll {counts} "
            f"({', '.join(kinds)}); unchanged polls (304): {len(idle_records)} records"
        )


def test_markup_in_a_path_is_shown_as_text(page: Page, web_daemon: DaemonProcess, tmp_path: Path):
    hostile = tmp_path / "<img src=x onerror=alert(1)>"
    hostile.mkdir()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{web_daemon.url}/jobs")
    with web_daemon.client() as http:
        first = http.post("/api/jobs", json={"job_type": "scan", "path": str(hostile)}).json()

    # Inserted by a poll (jobs.js) ...
    wait_for(page, lambda: first["id"] in row_ids(page), LIVE_TIMEOUT)
    assert row(page, first["id"], "file_path").text_content() == str(hostile)
    assert page.locator("#jobs-table img").count() == 0
    # ... and rendered by the server (display.py + Jinja) on a reload, and on the detail page.
    page.reload()
    assert row(page, first["id"], "file_path").text_content() == str(hostile)
    assert page.locator("main img").count() == 0
    page.goto(f"{web_daemon.url}/jobs/{first['id']}")
    assert page.text_content('[data-field="file_path"]') == str(hostile)
    wait_for(page, lambda: str(hostile) in page.text_content("#job-log"), LIVE_TIMEOUT)
    assert page.locator("main img").count() == 0
    assert dialogs == []
    assert page.evaluate("window.__cspViolations || []") == []


def test_first_render_works_without_javascript(browser, web_daemon: DaemonProcess, store):
    job_id = finished_job(store, "/media/no-js")
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{web_daemon.url}/jobs?status=completed")
        assert row_ids(page) == [job_id]
        assert row(page, job_id, "status").text_content() == "completed"
        page.goto(f"{web_daemon.url}/jobs/{job_id}")
        assert page.text_content('[data-field="status"]') == "completed"
    finally:
        context.close()


def test_pages_send_a_strict_content_security_policy(web_daemon: DaemonProcess, store):
    job_id = finished_job(store, "/media/csp")
    with httpx.Client(base_url=web_daemon.url) as http:
        for path in ("/jobs", f"/jobs/{job_id}", "/jobs?status=bogus"):
            response = http.get(path)
            csp = response.headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "style-src 'self'" in csp
            assert "unsafe-inline" not in csp
            html = response.text
            assert " style=" not in html
            assert "<script>" not in html and "<style" not in html
        assert http.get("/").headers["Location"] == "/jobs"
        rules = http.get("/static/polling-rules.json")
        assert rules.status_code == 200
        assert json.loads(rules.text) == json.loads(
            (Path(__file__).parents[2] / "vpo" / "polling_rules.json").read_text()
        )


def test_basic_auth_browser_session_polls(browser, daemon_factory):
    token = "t" * 24
    polling = {"interval_seconds": 2, "idle_interval_seconds": 2}  # no idle hint
    daemon = daemon_factory(token=token, config={"polling": polling}).start()
    context = browser.new_context(http_credentials={"username": "vpo", "password": token})
    try:
        page = context.new_page()
        statuses: list[int] = []
        page.on("response", lambda r: statuses.append(r.status) if "/api/jobs" in r.url else None)
        page.goto(f"{daemon.url}/jobs")
        wait_for(page, lambda: 200 in statuses, LIVE_TIMEOUT)
        assert 401 not in statuses
        assert page.get_attribute("#connection-status", "data-state") == "connected"
    finally:
        context.close()


def test_type_and_since_filters_and_unknown_types(page: Page, web_daemon: DaemonProcess, store):
    recent_scan = finished_job(store, "/media/recent")
    old = store.create_job(
        "scan", "/media/old", status=RUNNING, created_at=datetime.now(UTC) - timedelta(days=3)
    )
    store.finish_job(old.id, COMPLETED)
    other_type = store.create_job("transcode", "/media/other", status=RUNNING)

    page.goto(f"{web_daemon.url}/jobs")
    assert set(row_ids(page)) == {recent_scan, old.id, other_type.id}
    # A type this version does not know is shown as it comes, with a neutral badge.
    assert row(page, other_type.id, "job_type").text_content() == "transcode"

    # Choosing a filter applies it at once (the form submits on change) and lands in the URL.
    page.select_option("select[name=since]", "24h")
    page.wait_for_url("**/jobs?since=24h")
    assert set(row_ids(page)) == {recent_scan, other_type.id}
    page.select_option("select[name=type]", "scan")
    page.wait_for_url("**/jobs?type=scan&since=24h")
    assert row_ids(page) == [recent_scan]

    requests = ApiRequests(page)
    page.goto(f"{web_daemon.url}/jobs?type=transcode")
    assert row_ids(page) == [other_type.id]
    assert page.input_value("select[name=type]") == "transcode"
    store.update_progress(other_type.id, processed=1, total=4, percent=25.0)
    wait_for(
        page,
        lambda: row(page, other_type.id, "progress").text_content().strip() == "25%",
        LIVE_TIMEOUT,
    )
    assert all(url.endswith("/api/jobs?type=transcode") for url in requests.matching("/api/jobs?"))


def test_first_poll_after_the_server_render_rewrites_nothing(
    page: Page, web_daemon: DaemonProcess, store
):
    """The server (display.py) and the page (format.js) format every value alike, so the first
    poll, which has no ETag yet and gets a full 200, finds nothing to change."""
    for n in range(10):
        finished_job(store, f"/media/done/{n}")
    finished_job(store, "/media/failed <b>x</b> & 'y'", FAILED)
    cancelled = store.create_job("scan", "/media/cancelled", status=RUNNING)
    store.update_progress(cancelled.id, processed=1, total=3, percent=33.3)
    store.request_cancel(cancelled.id)
    store.finish_job(cancelled.id, "cancelled")
    responses: list[int] = []
    page.on("response", lambda r: responses.append(r.status) if "/api/jobs" in r.url else None)
    page.goto(f"{web_daemon.url}/jobs")
    counter = MutationCounter(page, "main")
    wait_for(page, lambda: 200 in responses, LIVE_TIMEOUT)
    assert counter.take() == []
    wait_for(page, lambda: 304 in responses, LIVE_TIMEOUT)
    assert counter.take() == []


def test_hidden_characters_and_names_that_are_not_utf8_read_escaped(
    page: Page, web_daemon: DaemonProcess, tmp_path: Path
):
    # U+202E would make "holiday\u202egnp" read "holidaypng"; the second folder's name is the
    # bytes of "Amélie" in Latin-1, which the API sends escaped with file_path_is_utf8 false.
    disguised = tmp_path / "holiday\u202egnp"
    disguised.mkdir()
    latin1 = os.fsencode(tmp_path) + b"/Am\xe9lie"
    os.mkdir(latin1)
    shown_disguised = str(tmp_path / "holiday\\u202egnp")
    shown_latin1 = str(tmp_path / "Am\\xe9lie")
    note = "not UTF-8: bytes shown as \\xNN"
    page.goto(f"{web_daemon.url}/jobs")
    with web_daemon.client() as http:
        first = http.post("/api/jobs", json={"job_type": "scan", "path": str(disguised)}).json()
        second = http.post(
            "/api/jobs", json={"job_type": "scan", "path": shown_latin1, "path_is_utf8": False}
        ).json()

    # Inserted by a poll (format.js) ...
    wait_for(page, lambda: second["id"] in row_ids(page), LIVE_TIMEOUT)
    assert row(page, first["id"], "file_path").text_content() == shown_disguised
    assert row(page, second["id"], "file_path").text_content() == shown_latin1
    assert row(page, second["id"], "file_path").get_attribute("title") == f"{shown_latin1} ({note})"
    bidi = row(page, first["id"], "file_path").evaluate("c => getComputedStyle(c).unicodeBidi")
    assert bidi == "isolate"
    # ... and on the detail page, where a poll keeps the same text.
    page.goto(f"{web_daemon.url}/jobs/{second['id']}")
    assert page.text_content('[data-field="file_path"]') == shown_latin1
    assert page.locator('[data-field="file_path_note"]').is_visible()
    assert page.text_content('[data-field="file_path_note"]') == note
    wait_for(page, lambda: shown_latin1 in page.text_content("#job-log"), LIVE_TIMEOUT)
    page.goto(f"{web_daemon.url}/jobs/{first['id']}")
    assert page.text_content('[data-field="file_path"]') == shown_disguised
    assert not page.locator('[data-field="file_path_note"]').is_visible()
    wait_for(page, lambda: shown_disguised in page.text_content("#job-log"), LIVE_TIMEOUT)
    assert "\u202e" not in page.text_content("main")
