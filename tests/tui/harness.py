"""What the TUI pilot tests share: a manual timer, a fake clock, waiting with deadlines, reading
the screen as text, and an API client that counts the requests it sends.

The manual scheduler replaces only *when* a poll fires (so backoffs of minutes are checked in
milliseconds); every poll it fires is a real HTTP request to a real daemon.
"""

from __future__ import annotations

import io
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from rich.console import Console, RenderableType
from textual.app import App
from textual.pilot import Pilot

from tests.support.daemon import wait_until
from vpo.client import AsyncVpoClient, Call, Result
from vpo_tui.screens.detail import DetailScreen
from vpo_tui.screens.jobs import JobsScreen


@dataclass
class ManualTimer:
    delay: float
    callback: Callable[[], None]
    stopped: bool = False
    fired: bool = False

    def stop(self) -> None:
        self.stopped = True


@dataclass
class ManualScheduler:
    """Records every one-shot timer the app arms; `fire()` runs the one that is still armed."""

    timers: list[ManualTimer] = field(default_factory=list)

    def __call__(self, delay: float, callback: Callable[[], None]) -> ManualTimer:
        timer = ManualTimer(delay, callback)
        self.timers.append(timer)
        return timer

    @property
    def armed(self) -> list[ManualTimer]:
        return [t for t in self.timers if not t.stopped and not t.fired]

    @property
    def delays(self) -> list[float]:
        return [t.delay for t in self.timers]

    def fire(self) -> ManualTimer:
        armed = self.armed
        assert len(armed) == 1, f"expected exactly one armed timer, found {len(armed)}"
        timer = armed[0]
        timer.fired = True
        timer.callback()
        return timer


class FakeClock:
    """Monotonic time the test moves by hand (countdowns and log intervals of real minutes)."""

    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CountingClient(AsyncVpoClient):
    """The real async client, counting requests by path, so tests see exactly what went out."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.sent: Counter[str] = Counter()

    @property
    def total(self) -> int:
        return sum(self.sent.values())

    async def execute(self, call: Call) -> Result:
        self.sent[call.path] += 1
        return await super().execute(call)


async def wait_for(
    pilot: Pilot, condition: Callable[[], object], timeout: float = 15.0, message: str = ""
) -> object:
    """Let the app run until `condition()` is truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(message or f"condition not met within {timeout} s")
        await pilot.pause(0.03)


def wait_daemon(
    condition: Callable[[], object], timeout: float = 30.0, message: str = ""
) -> object:
    """Blocking wait on the daemon's state (outside the app), polling every 50 ms."""
    return wait_until(
        condition,
        timeout=timeout,
        interval=0.05,
        message=message or f"daemon condition not met within {timeout} s",
    )


def screen_text(app: App) -> str:
    """The screen as the user sees it (modal dialogs over their background), as plain text."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system=None,
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    console.print(screen_render(app))
    return console.export_text()


def screen_render(app: App) -> RenderableType:
    """What Textual draws for the whole screen: the current screen over the ones it covers.

    The one read of Textual internals in the tests, kept here so that a Textual release which
    changes them breaks in one place. Why private: Textual 8's only public export of the screen
    is `App.export_screenshot()`, an SVG; the tests need the plain text a user reads, and this is
    the very render that export_screenshot prints before it turns it into SVG.
    tests/tui/test_harness.py checks that the two still agree.
    """
    return app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)


def submit_scan(url: str, path: str) -> dict:
    with httpx.Client(base_url=url, timeout=10) as http:
        response = http.post("/api/jobs", json={"job_type": "scan", "path": path})
        assert response.status_code == 201, response.text
        return response.json()


def get_job(url: str, job_id: str) -> dict:
    with httpx.Client(base_url=url, timeout=10) as http:
        return http.get(f"/api/jobs/{job_id}").json()


async def poll_once(pilot: Pilot, loop: object, scheduler: ManualScheduler) -> None:
    """Fire the armed poll timer and wait until that request has been applied."""
    done = loop.requests_finished  # type: ignore[attr-defined]
    scheduler.fire()
    await wait_for(
        pilot,
        lambda: loop.requests_finished > done,  # type: ignore[attr-defined]
        message="the poll fired but its request never finished",
    )


async def jobs_screen(pilot: Pilot, app: App) -> JobsScreen:
    """The jobs screen once its first poll has been applied."""
    await wait_for(pilot, lambda: isinstance(app.screen, JobsScreen))
    screen = app.screen
    await wait_for(pilot, lambda: screen.loop is not None and screen.loop.requests_finished >= 1)
    return screen  # type: ignore[return-value]


async def detail_screen(pilot: Pilot, app: App) -> DetailScreen:
    """The detail screen once its first poll has been applied."""
    await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
    screen = app.screen
    await wait_for(pilot, lambda: screen.loop is not None and screen.loop.requests_finished >= 1)
    return screen  # type: ignore[return-value]
