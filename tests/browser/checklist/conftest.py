"""Fixtures for the cross-engine checklist: one browser per engine for the module (starting
WebKit's MiniBrowser takes seconds), a clean page per test, a real `vpo serve` behind the
harness proxy (harness.py), and the artifact folder for screenshots.

Pick engines with `pytest -m browser --engine firefox` (repeatable); all three run by default.
An engine whose parts are missing fails, it is never skipped: scripts/setup installs them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.checklist.engines import ENGINES, EnginePage, missing_parts, open_engine
from tests.browser.checklist.harness import PageHarness
from tests.browser.checklist.session import PageSession
from tests.support.daemon import DaemonProcess

ARTIFACTS = Path(os.environ.get("VPO_TEST_ARTIFACTS", Path(__file__).parents[3] / "test-artifacts"))


@pytest.fixture(scope="module", params=ENGINES)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EnginePage]:
    name = request.param
    missing = missing_parts(name)
    if missing:
        pytest.fail(
            f"{name}: missing {', '.join(missing)}; run scripts/setup, or choose other engines "
            "with --engine",
            pytrace=False,
        )
    log_dir = tmp_path_factory.mktemp(f"{name}-logs")
    if name == "chromium":
        # The package's one Playwright (tests/browser/conftest.py): a second sync Playwright
        # cannot start while it runs.
        playwright = request.getfixturevalue("playwright_instance")
        page = open_engine(name, log_dir, playwright=playwright)
    else:
        page = open_engine(name, log_dir)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:  # so a CI log says which versions were tested
        reporter.write_line(f"\n[engine] {name} {page.version}, hiding a page: {page.hiding}")
    yield page
    page.close()


@pytest.fixture
def artifacts(engine: EnginePage) -> Path:
    folder = ARTIFACTS / "browser" / engine.engine
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def session(engine: EnginePage, web_daemon: DaemonProcess) -> Iterator[PageSession]:
    """A clean page in `engine` talking to `web_daemon` (2 s polls) through the harness; fails
    the test on any script error, CSP violation or dialog the page produced."""
    engine.reset()
    checked = PageSession(engine, PageHarness(web_daemon.port))
    try:
        yield checked
        checked.assert_clean()
    finally:
        checked.harness.close()
        engine.reset()
