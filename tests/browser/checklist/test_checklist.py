"""The dashboard's manual checklist for the web dashboard, automated, in three engines: Chromium,
Firefox and WebKit (Safari's engine). Written once against the adapter in engines.py; the
`engine` fixture runs each test in every engine (`--engine` picks some).

Jobs change the way other VPO processes change them: through the API (`POST /api/jobs`) or the
job store in the daemon's data dir (what a foreground `vpo scan` does), never by poking the
page. Tests about timing (pauses, backoff, "nothing after the end") install the harness's fake
clock in the page (fake_clock.js): the rules speak of minutes, which a test cannot sleep through.
Elsewhere the page runs on its real timers.
"""

from __future__ import annotations

import json
import sqlite3
import struct
from pathlib import Path

from tests.browser.checklist.harness import THROWING_PATH
from tests.browser.checklist.session import PageSession
from tests.support.daemon import DaemonProcess
from vpo.joblog import JobLog
from vpo.jobs import COMPLETED, FAILED, RUNNING
from vpo.store import JobStore

VECTORS = {
    v["name"]: v
    for v in json.loads((Path(__file__).parents[2] / "polling_vectors.json").read_text())["vectors"]
}


def no_idle_hint(interval_s: int) -> dict:
    """A daemon config whose idle hint (X-Poll-Interval) equals its interval, so the backoff
    vectors' delays hold on an idle daemon."""
    return {"polling": {"interval_seconds": interval_s, "idle_interval_seconds": interval_s}}


def finished_job(store: JobStore, path: str, status: str = COMPLETED) -> str:
    job = store.create_job("scan", path, status=RUNNING)
    store.finish_job(job.id, status, error_message="boom" if status == FAILED else None)
    return job.id


def anchor_row(session: PageSession, y: int) -> dict:
    """The job row under viewport height `y`, with its top edge in the viewport."""
    return session.call(
        """(y) => {
            const row = document.elementFromPoint(200, y).closest('tr[data-job-id]');
            return {id: row.dataset.jobId, top: row.getBoundingClientRect().top};
        }""",
        y,
    )


def row_top(session: PageSession, job_id: str) -> float:
    return session.call(
        '(id) => document.querySelector(`tr[data-job-id="${id}"]`).getBoundingClientRect().top',
        job_id,
    )


# --- the jobs list ---------------------------------------------------------------------------


def test_jobs_list_follows_changes_without_reload_or_losing_the_view(
    session: PageSession, web_daemon: DaemonProcess, store: JobStore, scan_root: Path
):
    """Status changes, new jobs (above and below the rows on screen), the filters, what the user
    typed, the keyboard focus, the scroll position: one view through several polls."""
    for n in range(30):
        finished_job(store, f"/media/library/{n:02d}")
    running = store.create_job("scan", "/media/library/50-running", status=RUNNING)
    view = "search=library&sort=file_path&order=asc"
    session.engine.set_viewport(1000, 500)
    session.open(f"/jobs?{view}")
    assert session.cell(running.id, "status") == "running"
    assert session.call("() => document.querySelector('input[name=search]').value") == "library"
    session.call("() => { window.__noReloadMarker = 'still here'; }")

    # The user starts typing a new search (not applied yet) and scrolls into the list.
    session.engine.type_text("input[name=search]", "libr")
    session.call("() => window.scrollTo(0, 400)")
    anchor = anchor_row(session, 300)
    scroll_before = session.call("() => window.scrollY")

    store.finish_job(running.id, COMPLETED, summary_raw={"found": 0})
    above = finished_job(store, "/media/library/0 new")  # sorts above the rows on screen
    with web_daemon.client() as http:  # sorts last: the scan root is under /tmp/.../library
        answer = http.post("/api/jobs", json={"job_type": "scan", "path": str(scan_root)})
    assert answer.status_code == 201
    below = answer.json()["id"]
    finished_job(store, "/media/other/not-matching")

    session.wait(lambda: session.cell(running.id, "status") == "completed", "status never changed")
    session.wait(lambda: below in session.row_ids() and above in session.row_ids(), "no new rows")
    ids = session.row_ids()
    assert ids[0] == above and ids[-1] == below and len(ids) == 33
    assert session.cell(running.id, "progress").strip() == "100%"
    assert session.attr(f'tr[data-job-id="{running.id}"] .badge', "class") == (
        "badge badge-completed"
    )
    assert session.text("#jobs-count") == "Showing 1\u201333 of 33 jobs"
    # No reload, nothing the user did is lost.
    assert session.call("() => window.__noReloadMarker") == "still here"
    assert session.call("() => document.querySelector('input[name=search]').value") == "libr"
    assert session.call("() => document.activeElement.name") == "search"
    # The rows on screen stay where they were although a row was inserted above them.
    assert session.call("() => window.scrollY") >= scroll_before
    moved_to = row_top(session, anchor["id"])
    assert abs(moved_to - anchor["top"]) <= 1, f"row moved from {anchor['top']} to {moved_to}"
    # Every poll asked the view's own question.
    polls = [f["url"] for f in session.fetches("/api/jobs")]
    assert polls and all(url.endswith(f"/api/jobs?{view}") for url in polls), polls
    assert session.connection_state() == "connected"


def test_first_poll_after_the_server_render_rewrites_nothing(session: PageSession, store: JobStore):
    """format.js must write every value exactly as the server's display.py did, in every
    engine (regular expressions with Unicode escapes, padStart, number formatting): otherwise
    the first poll, a full 200 with no ETag yet, would rewrite cells."""
    for n in range(5):
        finished_job(store, f"/media/done/{n}")
    finished_job(store, "/media/failed <b>x</b> & 'y' \u200b", FAILED)
    cancelled = store.create_job("scan", "/media/cancelled\u202e", status=RUNNING)
    store.update_progress(cancelled.id, processed=1, total=3, percent=33.3)
    store.request_cancel(cancelled.id)
    store.finish_job(cancelled.id, "cancelled")
    session.open("/jobs", fake_clock=True)
    session.call(
        """() => {
            window.__mutations = 0;
            window.__observer = new MutationObserver((records) => {
                window.__mutations += records.length;
            });
            window.__observer.observe(document.querySelector('main'),
                {subtree: true, childList: true, attributes: true, characterData: true});
        }"""
    )
    session.poll_once(2000)
    changes = "() => window.__mutations + window.__observer.takeRecords().length"
    assert session.call(changes) == 0
    assert session.connection_state() == "connected"
    assert session.cell(cancelled.id, "file_path") == "/media/cancelled\\u202e"
    assert session.cell(cancelled.id, "progress").strip() == "33%"


# --- polling rules (fake clock) --------------------------------------------------------------

# One poll of the list page: the list request (the counters' request follows it in the same poll).
POLLS = "/api/jobs"


def test_polling_pauses_while_hidden_and_resumes_at_once_when_visible(session: PageSession, capsys):
    session.open("/jobs", fake_clock=True)
    assert session.fetches(POLLS) == []
    for _ in range(3):  # the first poll comes one interval after the render, then one each
        session.poll_once(2000)
    assert session.call("() => window.__probe.fetches.map((f) => f.t)") == sorted(
        session.call("() => window.__probe.fetches.map((f) => f.t)")
    )
    visible_polls = len(session.fetches(POLLS))

    # Hidden half way to the next poll: the scheduled poll is dropped, nothing for ten minutes.
    session.run_clock(1000)
    session.engine.set_hidden(True)
    session.wait(lambda: session.call("() => document.hidden"), "the page never became hidden")
    session.run_clock(10 * 60 * 1000)
    assert len(session.fetches(POLLS)) == visible_polls

    # Visible again: a poll at once, without page time moving, then the interval again.
    shown_at = session.now()
    session.engine.set_hidden(False)
    session.wait(
        lambda: len(session.fetches(POLLS)) == visible_polls + 1, "no poll on becoming visible"
    )
    assert session.fetches(POLLS)[-1]["t"] == shown_at
    session.wait(session.idle)
    session.poll_once(2000)
    assert session.fetches(POLLS)[-1]["t"] - session.fetches(POLLS)[-2]["t"] == 2000
    with capsys.disabled():
        print(f"\n[{session.engine.engine}] hidden page: {session.engine.hiding} hiding")


def test_indicator_through_an_outage_with_the_backoff_spacing_of_the_rules(
    session: PageSession, daemon_factory
):
    """The daemon is really stopped: every poll meets a refused connection (a network error in
    the page), through the whole backoff sequence to the cap, then the daemon comes back."""
    vector = VECTORS["backoff sequence to the cap"]
    daemon = daemon_factory(config=no_idle_hint(vector["interval_ms"] // 1000))
    session.use_daemon(daemon.start().port)
    session.open("/jobs", fake_clock=True)
    session.poll_once(vector["interval_ms"])
    assert session.connection_state() == "connected"
    assert session.text("#connection-status .connection-text") == "Connected"

    daemon.stop()
    session.poll_once(vector["interval_ms"])  # the first failure
    check_backoff_steps(session, vector["steps"])
    assert session.text("#connection-status .connection-text") == "Offline"
    assert session.is_shown("#connection-retry")
    # The time to the next try counts down.
    session.run_clock(4000)
    assert session.text("#connection-status .connection-next") == " \u00b7 next try in 116 s"

    daemon.start()
    session.poll_once(116_000)
    session.wait(lambda: session.connection_state() == "connected")
    assert session.text("#connection-status .connection-text") == "Connected"
    assert session.text("#connection-status .connection-next") == ""
    assert not session.is_shown("#connection-retry")


def test_backoff_resets_on_success_and_503_429_count_as_failures(
    session: PageSession, daemon_factory
):
    vector = VECTORS["success resets backoff"]
    daemon = daemon_factory(config=no_idle_hint(vector["interval_ms"] // 1000))
    session.use_daemon(daemon.start().port)
    failures = iter(["unavailable", "too_many"] * 10)
    outcomes = [next(failures) if s["outcome"] == "fail" else "ok" for s in vector["steps"]]
    session.harness.plan_failures("/api/jobs", outcomes)
    session.open("/jobs", fake_clock=True)
    session.poll_once(vector["interval_ms"])  # the first poll: the first planned outcome
    check_backoff_steps(session, vector["steps"])


def check_backoff_steps(session: PageSession, steps: list[dict]) -> None:
    """After each outcome, the indicator's state, and the next poll exactly `delay_ms` after
    the end of the previous one (docs/design.md §7: one poll at a time). The last step's poll is
    not run."""
    for number, step in enumerate(steps, start=1):
        where = f"{session.engine.engine}, after step {number} ({step['outcome']})"
        assert session.connection_state() == step["state"], where
        if number == len(steps):
            break
        before = len(session.fetches("/api/jobs"))
        session.run_clock(step["delay_ms"] - 1)
        assert len(session.fetches("/api/jobs")) == before, f"{where}: polled too early"
        session.poll_once(1)
        polls = session.fetches("/api/jobs")
        assert polls[-1]["t"] - polls[-2]["end"] == step["delay_ms"], where


# --- the detail page -------------------------------------------------------------------------


def test_detail_page_progress_log_tail_final_lines_and_the_stop(
    session: PageSession, store: JobStore
):
    job = store.create_job("scan", "/media/tv", status=RUNNING)
    log = JobLog(store.logs_dir, job.id)
    log.info("first line")
    session.open(f"/jobs/{job.id}", fake_clock=True)
    lines = lambda: session.texts("#job-log .log-line")  # noqa: E731
    assert [line.split(" ", 1)[1].strip() for line in lines()] == ["INFO  first line"]
    assert session.field("status") == "running"
    assert session.attr("#job-progress", "value") is None  # total unknown: indeterminate
    session.wait(session.no_fetch_out)  # both pollers fetch once at start

    store.update_progress(job.id, phase="probe", processed=25, total=100, percent=25.0)
    for n in range(2, 5):
        log.info(f"line {n}")
        # A poll still out when the clock moves would arm its next timer after the move.
        session.wait(session.no_fetch_out)
        session.run_clock(2000)
        session.wait(lambda n=n: len(lines()) == n, f"line {n} missing")
    session.wait(lambda: session.field("files") == "25 of 100 files")
    assert session.field("progress_text") == "25%"
    assert session.attr("#job-progress", "value") == "25"
    assert session.text("#log-range") == "Lines 1\u20134"

    # The last lines are written just before the job ends: the final fetch must bring them.
    log.info("last words")
    log.close()
    store.finish_job(job.id, COMPLETED, summary_raw={"found": 4, "scanned": 4})
    session.wait(session.no_fetch_out)
    session.run_clock(2000)
    session.wait(lambda: session.field("status") == "completed")
    session.wait(lambda: lines()[-1].endswith("last words"), "the final lines never came")
    session.wait(lambda: "updates stopped" in session.text("#connection-status"))
    assert len(lines()) == 5  # nothing twice
    assert session.field("progress_text") == "100%"

    settled = len(session.fetches())
    session.run_clock(10 * 60 * 1000)
    assert len(session.fetches()) == settled, session.fetches()[-3:]


def test_a_job_that_is_gone_says_it_no_longer_exists(
    session: PageSession, web_daemon: DaemonProcess, store: JobStore
):
    session.open("/jobs/00000000-0000-4000-8000-000000000000")
    assert session.text("main h1") == "This job no longer exists"
    assert session.attr("main a", "href") == "/jobs"

    job = store.create_job("scan", "/media/tv", status=RUNNING)
    session.open(f"/jobs/{job.id}")
    assert session.field("status") == "running"
    # Gone from the database while the page is open (retention removes finished jobs; the API
    # has no delete), with the store's change counter bumped as every job write does.
    with sqlite3.connect(web_daemon.data_dir / "vpo.db") as db:
        db.execute("DELETE FROM jobs WHERE id = ?", (job.id,))
        db.execute("UPDATE meta SET value = value + 1 WHERE key = 'change_counter'")
    session.wait(lambda: session.text("main h1") == "This job no longer exists", "never said")
    assert session.count("#job-detail") == 0
    assert "updates stopped" in session.text("#connection-status")


# --- hostile names and the CSP ---------------------------------------------------------------


def test_hostile_file_names_render_as_text_under_the_strict_csp(
    session: PageSession, web_daemon: DaemonProcess, tmp_path: Path
):
    """Markup and a right-to-left override in folder names, inserted by a poll (jobs.js), by
    the server's render and on the detail page. The probe fails the test on any CSP violation,
    script error or dialog (session fixture)."""
    markup = tmp_path / "<img src=x onerror=alert(1)>"
    markup.mkdir()
    disguised = tmp_path / "holiday\u202egnp"
    disguised.mkdir()
    shown_disguised = str(tmp_path / "holiday\\u202egnp")
    session.open("/jobs")
    with web_daemon.client() as http:
        first = http.post("/api/jobs", json={"job_type": "scan", "path": str(markup)}).json()
        second = http.post("/api/jobs", json={"job_type": "scan", "path": str(disguised)}).json()

    session.wait(lambda: second["id"] in session.row_ids(), "the jobs never appeared")
    assert session.cell(first["id"], "file_path") == str(markup)
    assert session.cell(second["id"], "file_path") == shown_disguised
    assert session.count("main img") == 0
    assert (
        session.call(
            "(id) => getComputedStyle(document.querySelector("
            '`tr[data-job-id="${id}"] td[data-col=file_path]`)).unicodeBidi',
            second["id"],
        )
        == "isolate"
    )

    session.open("/jobs")  # rendered by the server this time
    assert session.cell(first["id"], "file_path") == str(markup)
    assert session.cell(second["id"], "file_path") == shown_disguised
    assert session.count("main img") == 0
    session.open(f"/jobs/{first['id']}")
    assert session.field("file_path") == str(markup)
    session.wait(lambda: str(markup) in session.text("#job-log"), "the log never showed")
    assert session.count("main img") == 0
    assert "\u202e" not in session.text("main")


# --- how it looks ----------------------------------------------------------------------------


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", header[16:24])


def layout_problems(session: PageSession) -> list[str]:
    """What would look broken at 1280x800: a page wider than the window, a header that wrapped,
    a progress bar without width."""
    return session.call(
        """() => {
            const problems = [];
            const root = document.documentElement;
            if (root.scrollWidth > window.innerWidth) {
                problems.push(`page ${root.scrollWidth}px wide, window ${window.innerWidth}px`);
            }
            const header = document.querySelector('.site-header').getBoundingClientRect();
            const status = document.getElementById('connection-status').getBoundingClientRect();
            if (status.top < header.top || status.bottom > header.bottom || header.height > 60) {
                problems.push(`header wrapped: ${header.height}px high`);
            }
            for (const bar of document.querySelectorAll('main progress:not([hidden])')) {
                if (bar.getBoundingClientRect().width < 20) {
                    problems.push('a progress bar has no width');
                }
            }
            return problems;
        }"""
    )


def test_screenshots_of_the_list_and_the_detail_page(
    session: PageSession, store: JobStore, artifacts: Path
):
    for n in range(6):
        finished_job(store, f"/media/library/show {n}/season 1")
    finished_job(store, "/media/library/broken", FAILED)
    job = store.create_job("scan", "/media/library/running", status=RUNNING)
    store.update_progress(job.id, phase="probe", processed=42, total=120, percent=35.0)
    log = JobLog(store.logs_dir, job.id)
    for n in range(1, 30):
        log.info(f"probed /media/library/show {n % 6}/season 1/episode {n}.mkv")
    log.warning("skipped /media/library/running/notes.txt: not a video")
    log.close()

    shots = {}
    for name, path in (("jobs", "/jobs"), ("job-detail", f"/jobs/{job.id}")):
        session.open(path)
        assert layout_problems(session) == [], name
        shots[name] = artifacts / f"{name}.png"
        session.engine.screenshot(shots[name])
    for name, shot in shots.items():
        width, height = png_size(shot)
        assert width >= 1000 and height >= 600, (name, width, height)
        assert shot.stat().st_size > 10_000, f"{shot} looks blank"


# --- the harness itself ----------------------------------------------------------------------


def test_the_probe_reports_csp_violations_script_errors_and_dialogs(session: PageSession):
    """The checks above trust the probe to see misbehaviour: show that it does, in each engine.
    An inline style attribute and an inline script (both refused by the page's CSP), and a
    same-origin script that throws (run by the page, not by the driver: Firefox runs driver
    scripts in a sandbox whose errors the page never sees)."""
    session.open("/jobs")
    assert session.problems() == {"errors": [], "csp": [], "dialogs": []}
    session.call(
        """(path) => {
            const box = document.createElement('div');
            box.setAttribute('style', 'color: red');
            document.body.append(box);
            const script = document.createElement('script');
            script.textContent = 'window.__inlineRan = true';
            document.body.append(script);
            const throwing = document.createElement('script');
            throwing.src = path;
            document.body.append(throwing);
        }""",
        THROWING_PATH,
    )
    session.wait(lambda: len(session.problems()["csp"]) >= 2, "no CSP violation was reported")
    session.wait(lambda: session.problems()["errors"], "no script error was reported")
    found = session.problems()
    assert {v["directive"] for v in found["csp"]} >= {"style-src-attr", "script-src-elem"}, found
    assert "thrown by a page script" in " ".join(found["errors"])
    assert session.call("() => window.__inlineRan === undefined")
    # Clean up for the fixture's final check, which would otherwise (rightly) fail the test.
    session.call("() => { for (const k of ['errors', 'csp']) window.__probe[k].length = 0; }")
