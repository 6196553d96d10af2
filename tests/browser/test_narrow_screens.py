"""The pages at a phone's width (390 CSS pixels) in headless Chromium against a real daemon."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from tests.support.daemon import DaemonProcess
from vpo.jobs import COMPLETED, RUNNING
from vpo.store import JobStore

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


@pytest.fixture
def phone_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(**PHONE)
    yield context.new_page()
    context.close()


def test_the_job_list_scrolls_sideways_instead_of_squeezing_paths(
    phone_page: Page, web_daemon: DaemonProcess, store: JobStore
) -> None:
    # Paths as a library has them: a few folders deep, no spaces to wrap at.
    for name in ("Recordings", "Old_Share", "Movies"):
        job = store.create_job("scan", f"/tmp/vpo-demo-f8dx11ff/media/{name}", status=RUNNING)
        store.finish_job(job.id, COMPLETED, summary_raw={"found": 0})
    phone_page.goto(f"{web_daemon.url}/jobs")

    line = phone_page.evaluate(
        "parseFloat(getComputedStyle(document.querySelector('#jobs-body td')).lineHeight) || 20"
    )
    heights = phone_page.eval_on_selector_all(
        "#jobs-body tr[data-job-id]", "rows => rows.map(r => r.getBoundingClientRect().height)"
    )
    assert len(heights) == 3
    # A path may wrap once or twice; squeezed to a letter a line it made rows 175 px tall.
    assert max(heights) <= 4 * line + 20, (heights, line)
    # The table keeps readable columns and its box scrolls sideways.
    assert phone_page.evaluate(
        "(() => { const w = document.querySelector('.table-wrap');"
        " return w.scrollWidth > w.clientWidth; })()"
    )
    # The page itself does not: only the table's box scrolls.
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390
