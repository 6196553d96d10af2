"""The polling rules (docs/design.md §7) in the real page: pause while hidden, fetch at once when
visible, the connection indicator through an outage, and the backoff spacing of requests.

These tests install Playwright's fake clock (`page.clock`) in the page: the rules are about
minutes of page time (a 120 s backoff cap, ten hidden minutes), which a test cannot sleep
through. Only the page's timers and Date are fake; the daemon, the network and fetch are real.
Every request the page makes is logged in the page with the fake clock's time, so the spacing
is measured exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.browser.page_tools import FETCH_LOG, set_hidden, wait_for
from tests.support.daemon import DaemonProcess

VECTORS = json.loads((Path(__file__).parents[1] / "polling_vectors.json").read_text())["vectors"]
LIVE_TIMEOUT = 10.0


def fetch_times(page: Page) -> list[int]:
    return page.evaluate("window.__fetches.filter(f => f.url.includes('/api/jobs')).map(f => f.t)")


def fetch_ends(page: Page) -> list[int | None]:
    return page.evaluate(
        "window.__fetches.filter(f => f.url.includes('/api/jobs')).map(f => f.end)"
    )


def idle(page: Page) -> bool:
    """No poll in flight (the refresh indicator is off)."""
    return page.get_attribute("#refresh-indicator", "data-busy") == "false"


def state(page: Page) -> str:
    return page.get_attribute("#connection-status", "data-state")


def open_dashboard(page: Page, daemon: DaemonProcess) -> None:
    """Load /jobs under the fake clock and stop the clock's natural flow right after, before the
    first poll (due one interval after the render) fires: from then on page time moves only when
    the test says so."""
    page.add_init_script(FETCH_LOG)
    page.clock.install()
    page.goto(f"{daemon.url}/jobs")
    page.clock.pause_at((page.evaluate("Date.now()") + 100) / 1000)  # seconds
    assert fetch_times(page) == []


def poll_once(page: Page, advance_ms: int) -> None:
    """Move page time forward by `advance_ms` and wait until the poll it triggers has ended."""
    before = len(fetch_times(page))
    page.clock.run_for(advance_ms)
    wait_for(page, lambda: len(fetch_times(page)) == before + 1, LIVE_TIMEOUT, "no poll")
    wait_for(page, lambda: idle(page), LIVE_TIMEOUT, "poll never ended")


def test_hidden_page_stops_requesting_and_visible_page_fetches_at_once(
    page: Page, web_daemon: DaemonProcess, capsys
):
    open_dashboard(page, web_daemon)
    # Visible: one poll per 2 s interval.
    for _ in range(5):
        poll_once(page, 2000)
    visible_polls = len(fetch_times(page))
    assert visible_polls == 5

    # Hidden half way to the next poll: the scheduled poll is dropped, nothing for ten minutes.
    page.clock.run_for(1000)
    set_hidden(page, True)
    page.clock.run_for(10 * 60 * 1000)
    page.evaluate("0")
    hidden_polls = len(fetch_times(page)) - visible_polls
    assert hidden_polls == 0

    # Visible again: a poll at once, without the clock moving, then the interval again.
    shown_at = page.evaluate("Date.now()")
    set_hidden(page, False)
    wait_for(page, lambda: len(fetch_times(page)) == visible_polls + 1, LIVE_TIMEOUT)
    assert fetch_times(page)[-1] == shown_at
    wait_for(page, lambda: idle(page), LIVE_TIMEOUT)
    poll_once(page, 2000)
    assert fetch_times(page)[-1] - fetch_times(page)[-2] == 2000

    # A quick hide/show/hide/show (within one task, so the first poll is still in flight)
    # starts one poll and one loop, not two.
    before = len(fetch_times(page))
    page.clock.run_for(500)
    set_hidden(page, [True, False, True, False])
    wait_for(page, lambda: len(fetch_times(page)) == before + 1, LIVE_TIMEOUT)
    wait_for(page, lambda: idle(page), LIVE_TIMEOUT)
    page.clock.run_for(2000)
    wait_for(page, lambda: idle(page), LIVE_TIMEOUT)
    page.clock.run_for(2000)
    wait_for(page, lambda: idle(page), LIVE_TIMEOUT)
    assert len(fetch_times(page)) == before + 3  # the immediate one, then one per interval
    with capsys.disabled():
        print(
            f"\n[hidden page] requests: {visible_polls} in 10 s visible, {hidden_polls} in 10 min "
            "hidden (page time), 1 immediately on becoming visible"
        )


def test_indicator_goes_reconnecting_then_offline_while_the_daemon_is_down(
    page: Page, web_daemon: DaemonProcess
):
    open_dashboard(page, web_daemon)
    poll_once(page, 2000)
    assert state(page) == "connected"
    assert page.text_content("#connection-status .connection-text") == "Connected"

    web_daemon.stop()
    poll_once(page, 2000)
    assert state(page) == "reconnecting"
    assert page.text_content("#connection-status .connection-text") == "Reconnecting\u2026"
    poll_once(page, 2000)
    assert state(page) == "reconnecting"
    poll_once(page, 2000)
    assert state(page) == "offline"
    status_text = page.text_content("#connection-status")
    assert "Offline" in status_text and "next try in 10 s" in status_text
    assert page.is_visible("#connection-retry")
    # The time to the next try counts down.
    page.clock.run_for(4000)
    assert "next try in 6 s" in page.text_content("#connection-status .connection-next")
    assert len(fetch_times(page)) == 4

    web_daemon.start()
    poll_once(page, 6000)
    wait_for(page, lambda: state(page) == "connected", LIVE_TIMEOUT)
    assert page.text_content("#connection-status .connection-text") == "Connected"
    assert page.text_content("#connection-status .connection-next") == ""
    assert page.is_hidden("#connection-retry")


def test_retry_now_polls_at_once_when_offline(page: Page, web_daemon: DaemonProcess):
    open_dashboard(page, web_daemon)
    page.route("**/api/jobs*", lambda route: route.abort("connectionrefused"))
    for _ in range(3):
        poll_once(page, 2000)
    assert state(page) == "offline"
    page.unroute("**/api/jobs*")
    before = len(fetch_times(page))
    page.click("#connection-retry")
    wait_for(page, lambda: len(fetch_times(page)) == before + 1, LIVE_TIMEOUT)
    wait_for(page, lambda: state(page) == "connected", LIVE_TIMEOUT)


@pytest.mark.parametrize(
    "vector",
    [v for v in VECTORS if v["name"] in ("backoff sequence to the cap", "success resets backoff")],
    ids=lambda v: v["name"],
)
def test_backoff_spacing_of_requests_matches_the_rules(page: Page, daemon_factory, vector: dict):
    """Failures alternate between a refused connection and a 503, both count (§7)."""
    interval_s = vector["interval_ms"] // 1000
    polling = {"interval_seconds": interval_s, "idle_interval_seconds": interval_s}  # no idle hint
    daemon = daemon_factory(config={"polling": polling}).start()
    outcomes = iter(step["outcome"] for step in vector["steps"])
    failures_served = [0]

    def answer(route):
        if next(outcomes, "ok") == "ok":
            route.continue_()
            return
        failures_served[0] += 1
        if failures_served[0] % 2:
            route.abort("connectionrefused")
        else:
            route.fulfill(
                status=503,
                content_type="application/json",
                body='{"error": "down", "code": "SHUTTING_DOWN", "details": {}}',
            )

    page.route("**/api/jobs*", answer)
    open_dashboard(page, daemon)
    poll_once(page, vector["interval_ms"])  # the first poll (one interval after the render)
    for number, step in enumerate(vector["steps"], start=1):
        where = f"after step {number} ({step['outcome']})"
        assert state(page) == step["state"], where
        before = len(fetch_times(page))
        page.clock.run_for(step["delay_ms"] - 1)
        page.evaluate("0")
        assert len(fetch_times(page)) == before, f"{where}: polled before {step['delay_ms']} ms"
        poll_once(page, 1)
        # The delay runs from the end of one request to the start of the next (§7: one poll at
        # a time); the page's clock stands still while a request is out, so both are exact.
        assert fetch_times(page)[-1] - fetch_ends(page)[-2] == step["delay_ms"], where
