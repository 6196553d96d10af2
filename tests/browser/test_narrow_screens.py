"""The pages at a phone's width (390 CSS pixels) in headless Chromium against a real daemon."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.support.daemon import DaemonProcess
from vpo.jobs import FAILED, RUNNING
from vpo.store import JobStore

# Screenshots for a person to look at (git-ignored, like the checklist's); VPO_TEST_ARTIFACTS
# moves the folder.
ARTIFACTS = (
    Path(os.environ.get("VPO_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts"))
    / "browser"
    / "phone"
)
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


@pytest.fixture
def phone_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(**PHONE)
    yield context.new_page()
    context.close()


def test_the_job_list_is_one_card_per_job_without_sideways_scroll(
    phone_page: Page, web_daemon: DaemonProcess, store: JobStore, capsys: pytest.CaptureFixture
) -> None:
    # Paths as a library has them, and worse: long folder names with no space to wrap at.
    long_name = "Season_01_" + "x" * 90
    paths = [f"/tmp/vpo-demo-f8dx11ff/media/{name}/{long_name}" for name in ("Recordings", "Old")]
    running = store.create_job("scan", paths[0], status=RUNNING)
    store.update_progress(running.id, phase="probe", processed=40, total=100, percent=40.0)
    done = store.create_job("scan", paths[1], status=RUNNING)
    store.finish_job(done.id, FAILED, error_message="boom")
    phone_page.goto(f"{web_daemon.url}/jobs")
    phone_page.click("#new-scan summary")  # the form open too: it must fit as well

    width = phone_page.evaluate("window.innerWidth")
    assert width == 390
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= width
    assert phone_page.evaluate(
        "(() => { const w = document.querySelector('.table-wrap');"
        " return w.scrollWidth <= w.clientWidth; })()"
    )
    cards = phone_page.evaluate(
        """() => Array.from(document.querySelectorAll('#jobs-body tr[data-job-id]'), (tr) => {
            const box = (sel) => {
                const r = tr.querySelector(sel).getBoundingClientRect();
                return {left: r.left, right: r.right, width: r.width, height: r.height};
            };
            return {
                id: tr.dataset.jobId,
                display: getComputedStyle(tr).display,
                card: box(':scope > td.col-id').left >= 0 ? tr.getBoundingClientRect().width : 0,
                status: box('td.col-status .badge'),
                progress: box('td.col-progress'),
                path: box('td.col-path'),
                pathText: tr.querySelector('td.col-path').textContent,
            };
        })"""
    )
    assert [card["id"] for card in cards] == [done.id, running.id]
    for card in cards:
        assert card["display"] == "grid", card
        assert 0 < card["card"] <= width, card
        for part in ("status", "progress", "path"):
            box = card[part]
            assert box["width"] > 0 and box["height"] > 0, (part, card)
            assert box["left"] >= 0 and box["right"] <= width, (part, card)
    # The whole path is there, wrapped, never cut.
    assert sorted(card["pathText"] for card in cards) == sorted(paths)
    assert phone_page.is_visible(f'tr[data-job-id="{running.id}"] progress')

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "jobs-phone-390.png"
    phone_page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 5_000
    with capsys.disabled():
        print(f"\n[phone] screenshot: {shot}")


def test_the_job_page_fits_a_phone(
    phone_page: Page, web_daemon: DaemonProcess, store: JobStore
) -> None:
    job = store.create_job("scan", "/tmp/media/" + "y" * 150, status=RUNNING)
    store.record_file_errors(job.id, [("/tmp/media/" + "z" * 150 + ".mkv", "probe failed")])
    phone_page.goto(f"{web_daemon.url}/jobs/{job.id}")
    assert phone_page.is_visible("#errors-list li")
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390
