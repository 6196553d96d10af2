"""What the checklist reads from and does to a page, on top of an engine adapter: the page's
text and attributes, its fetch log and clock (from the harness's probe), and the check that the
page produced no script error, CSP violation or dialog.

Everything here is engine-neutral: reads are JavaScript run in the page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.browser.checklist.engines import EnginePage
from tests.browser.checklist.harness import PageHarness
from tests.support.daemon import wait_until

# Polls every 2 s: anything the page must pick up arrives within a few polls. Generous, because
# the machine may be busy; a passing check returns as soon as its condition holds.
LIVE_TIMEOUT = 15.0


class PageSession:
    def __init__(self, engine: EnginePage, harness: PageHarness) -> None:
        self.engine = engine
        self.harness = harness
        self.clean_checked_pages: list[str] = []

    # --- navigation ----------------------------------------------------------------------

    def use_daemon(self, daemon_port: int) -> None:
        """Talk to another daemon from now on (one started with other settings)."""
        self.harness.close()
        self.harness = PageHarness(daemon_port)

    def open(self, path: str, *, fake_clock: bool = False) -> None:
        """Load `path` through the harness. With `fake_clock` the page's timers and Date are the
        paused fake clock (fake_clock.js): page time moves only through `run_clock`."""
        if self.engine_has_probe():
            self.assert_clean()  # what the previous page did, before it is gone
        self.harness.fake_clock = fake_clock
        self.engine.goto(self.harness.url + path)
        assert self.engine_has_probe(), "the harness's probe did not run in the page"
        if fake_clock:
            assert self.call("() => typeof window.__clock") == "object"

    def engine_has_probe(self) -> bool:
        return bool(self.call("() => Boolean(window.__probe)"))

    # --- reads -----------------------------------------------------------------------------

    def call(self, function: str, *args: Any) -> Any:
        return self.engine.call(function, *args)

    def text(self, selector: str) -> str | None:
        return self.call(
            "(s) => { const e = document.querySelector(s); return e ? e.textContent : null; }",
            selector,
        )

    def attr(self, selector: str, name: str) -> str | None:
        return self.call(
            "(s, n) => { const e = document.querySelector(s);"
            " return e ? e.getAttribute(n) : null; }",
            selector,
            name,
        )

    def count(self, selector: str) -> int:
        return self.call("(s) => document.querySelectorAll(s).length", selector)

    def is_shown(self, selector: str) -> bool:
        """Rendered with a box (not hidden, not display:none)."""
        return self.call(
            "(s) => { const e = document.querySelector(s);"
            " return Boolean(e && e.getClientRects().length); }",
            selector,
        )

    def texts(self, selector: str) -> list[str]:
        return self.call(
            "(s) => Array.from(document.querySelectorAll(s), (e) => e.textContent)", selector
        )

    def row_ids(self) -> list[str]:
        return self.call(
            "() => Array.from(document.querySelectorAll('#jobs-body tr[data-job-id]'),"
            " (r) => r.dataset.jobId)"
        )

    def cell(self, job_id: str, col: str) -> str | None:
        return self.text(f'tr[data-job-id="{job_id}"] td[data-col="{col}"]')

    def field(self, name: str) -> str | None:
        return self.text(f'[data-field="{name}"]')

    def connection_state(self) -> str | None:
        return self.attr("#connection-status", "data-state")

    def idle(self) -> bool:
        """No poll in flight (the refresh indicator is off)."""
        return self.attr("#refresh-indicator", "data-busy") == "false"

    def no_fetch_out(self) -> bool:
        """Every fetch the page started has ended (the status and the log poller alike), so the
        next move of the fake clock finds each poller's next timer armed."""
        return all(fetch.get("end") is not None for fetch in self.fetches())

    def fetches(self, needle: str = "/api/") -> list[dict]:
        """The page's fetch() calls whose URL contains `needle`: {url, t, end} in page time."""
        return self.call("(n) => window.__probe.fetches.filter((f) => f.url.includes(n))", needle)

    # --- time ----------------------------------------------------------------------------

    def now(self) -> int:
        """Page time. Read from the fake clock itself: Firefox runs WebDriver scripts in a
        sandbox whose `Date` is its own, not the page's (replaced) one."""
        return self.call("() => (window.__clock ? window.__clock.now() : Date.now())")

    def run_clock(self, ms: int) -> None:
        self.call("(ms) => { window.__clock.runFor(ms); }", ms)

    def poll_once(self, advance_ms: int, needle: str = "/api/jobs") -> None:
        """Move page time forward by `advance_ms` and wait until the one poll it triggers ended."""
        before = len(self.fetches(needle))
        self.run_clock(advance_ms)
        self.wait(lambda: len(self.fetches(needle)) == before + 1, "no poll")
        self.wait(self.idle, "the poll never ended")

    def wait(self, condition: Callable[[], object], message: str = "", timeout: float = 0) -> Any:
        return wait_until(condition, timeout=timeout or LIVE_TIMEOUT, interval=0.1, message=message)

    # --- the page's own conduct ------------------------------------------------------------

    def problems(self) -> dict[str, list]:
        return self.call(
            "() => window.__probe ? {errors: window.__probe.errors, csp: window.__probe.csp,"
            " dialogs: window.__probe.dialogs} : {errors: [], csp: [], dialogs: []}"
        )

    def assert_clean(self) -> None:
        """No script error, CSP violation or dialog on the current page so far."""
        found = self.problems()
        assert found == {"errors": [], "csp": [], "dialogs": []}, (
            f"{self.engine.engine}: the page misbehaved: {found}"
        )
