"""Fixtures for the browser tests: one headless Chromium per session, a fresh context and page
per test, and a real `vpo serve` with a 2 s polling interval so live updates show up quickly.

The tests drive the pages the way a user would and change the jobs the way other VPO processes
do: through the API (`POST /api/jobs`) or through the job store in the daemon's data dir (what a
foreground `vpo scan` does), never by poking the page's internals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.browser.checklist.engines import ENGINES
from tests.support.daemon import DaemonProcess
from vpo.store import JobStore

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
# idle_interval_seconds = interval: the daemon's idle hint (X-Poll-Interval) stretches nothing,
# so page time moves one interval per poll whether or not a job runs.
FAST_POLLING = {
    "polling": {"interval_seconds": 2, "log_interval_seconds": 2, "idle_interval_seconds": 2}
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test here is a browser test, marked with its engine too (the Playwright tests in
    this folder run in Chromium, the checklist in each engine); `--engine` keeps only those."""
    here = Path(__file__).parent
    chosen = set(config.getoption("engine") or ENGINES)
    kept, dropped = [], []
    for item in items:
        if here not in Path(item.fspath).parents:
            kept.append(item)
            continue
        callspec = getattr(item, "callspec", None)
        engine = callspec.params.get("engine", "chromium") if callspec else "chromium"
        item.add_marker(pytest.mark.browser)
        item.add_marker(getattr(pytest.mark, engine))
        (kept if engine in chosen else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


# Package scope, not session: Playwright's sync API keeps an asyncio loop running on the main
# thread while it is open, which would break every later test that starts a loop of its own
# (the Textual pilot, the async client).
@pytest.fixture(scope="package")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="package")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page that fails the test on any script error or CSP violation."""
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on(
        "console",
        lambda msg: (
            problems.append(f"console: {msg.text}")
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', (e) => {"
        " (window.__cspViolations = window.__cspViolations || []).push(e.violatedDirective); });"
    )
    yield page
    assert problems == [], problems


@pytest.fixture
def web_daemon(daemon_factory: Callable[..., DaemonProcess]) -> DaemonProcess:
    """A started daemon polling every 2 s (the fastest the rules allow), no auth."""
    return daemon_factory(config=FAST_POLLING).start()


@pytest.fixture
def store(web_daemon: DaemonProcess) -> Iterator[JobStore]:
    """The daemon's job store opened from this process, like a foreground `vpo scan` would."""
    job_store = JobStore(web_daemon.data_dir)
    yield job_store
    job_store.close()


@pytest.fixture
def scan_root(tmp_path: Path) -> Path:
    """An empty directory the daemon can scan (a scan of it completes at once)."""
    root = tmp_path / "library"
    root.mkdir()
    return root
