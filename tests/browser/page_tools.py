"""What the browser tests do to and read from a page: visibility, request counting, mutation
counting. Kept apart from the tests so each test reads as the behaviour it checks."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from playwright.sync_api import Page, Request

from tests.support.daemon import wait_until

__all__ = ["FETCH_LOG", "ApiRequests", "MutationCounter", "set_hidden", "wait_for", "wait_until"]


# An init script that records every fetch() the page makes, with its start and end times
# (page time, so it follows Playwright's fake clock), in window.__fetches.
FETCH_LOG = """
window.__fetches = [];
const realFetch = window.fetch;
window.fetch = function (input, init) {
    const record = {url: String(input), t: Date.now(), end: null};
    window.__fetches.push(record);
    const settle = () => { record.end = Date.now(); };
    const answer = realFetch.call(this, input, init);
    answer.then(settle, settle);
    return answer;
};
"""


def wait_for(page: Page, condition: Callable[[], object], timeout: float = 10.0, message: str = ""):
    """Like wait_until, but lets Playwright dispatch its events (requests, responses) while
    waiting: the sync API only processes them inside its own calls."""

    def check() -> object:
        page.evaluate("0")  # a round trip: pending events are delivered
        return condition()

    return wait_until(check, timeout=timeout, interval=0.05, message=message)


def set_hidden(page: Page, hidden: bool | list[bool]) -> None:
    """Make the page hidden or visible as far as its scripts can tell, and tell them.

    Headless Chromium keeps every page "visible" (minimising the window or opening a tab in
    front changes nothing; there is no CDP command for page visibility), so the test overrides
    `document.hidden` / `document.visibilityState` on the document and dispatches a real
    `visibilitychange` event from it: the page's own listener and its reads of
    `document.hidden` run exactly as they do when a user switches tabs.

    A list of states is applied one after another in the same task (a very quick hide/show).
    """
    page.evaluate(
        """(states) => {
            for (const hidden of states) {
                Object.defineProperty(document, 'hidden', {configurable: true, get: () => hidden});
                Object.defineProperty(document, 'visibilityState', {
                    configurable: true, get: () => (hidden ? 'hidden' : 'visible')});
                document.dispatchEvent(new Event('visibilitychange'));
            }
        }""",
        hidden if isinstance(hidden, list) else [hidden],
    )


@dataclass
class ApiRequests:
    """Every request the page makes to a path prefix, with the page's clock at the time."""

    page: Page
    prefix: str = "/api/"
    urls: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.page.on("request", self._on_request)

    def _on_request(self, request: Request) -> None:
        path = request.url.split("://", 1)[-1].split("/", 1)[-1]
        if ("/" + path).startswith(self.prefix):
            with self.lock:
                self.urls.append(request.url)

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.urls)

    def matching(self, needle: str) -> list[str]:
        with self.lock:
            return [url for url in self.urls if needle in url]


class MutationCounter:
    """A MutationObserver on one element's subtree, counting records per category."""

    def __init__(self, page: Page, selector: str) -> None:
        self.page = page
        page.evaluate(
            """(selector) => {
                const target = document.querySelector(selector);
                const rowOf = (node) => {
                    const element = node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement;
                    const tr = element ? element.closest('tr') : null;
                    return tr ? (tr.dataset.jobId || 'other-row') : 'outside-rows';
                };
                const describe = (r) => ({
                    type: r.type,
                    attribute: r.attributeName,
                    row: rowOf(r.target),
                    added: r.addedNodes.length,
                    removed: r.removedNodes.length,
                });
                window.__mutations = [];
                window.__takeMutations = () => {
                    const all = window.__mutations.concat(
                        window.__mutationObserver.takeRecords().map(describe));
                    window.__mutations = [];
                    return all;
                };
                window.__mutationObserver = new MutationObserver((records) => {
                    window.__mutations.push(...records.map(describe));
                });
                window.__mutationObserver.observe(target, {
                    subtree: true, childList: true, attributes: true, characterData: true});
            }""",
            selector,
        )

    def take(self) -> list[dict]:
        """The records since the last take (flushing the observer's queue first)."""
        return self.page.evaluate("window.__takeMutations()")
