"""Fixtures of the TUI pilot tests: an app wired to a real daemon with a manual timer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from tests.tui.harness import CountingClient, FakeClock, ManualScheduler
from vpo_tui.app import VpoTuiApp


@pytest.fixture
def scheduler() -> ManualScheduler:
    return ManualScheduler()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_app(scheduler: ManualScheduler, clock: FakeClock) -> Callable[..., VpoTuiApp]:
    """A VpoTuiApp on a counting client; polls fire when the test says so (scheduler).

    The counters line is off unless a test asks for it (with its own scheduler): its loop would
    be a second armed timer and a second stream of requests in tests that count the list's."""

    def make(url: str, **kwargs: object) -> VpoTuiApp:
        kwargs.setdefault("scheduler", scheduler)
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("show_stats", False)
        return VpoTuiApp(CountingClient(url), url=url, **kwargs)  # type: ignore[arg-type]

    return make


@asynccontextmanager
async def running(app: VpoTuiApp, size: tuple[int, int] = (100, 30)) -> AsyncIterator:
    async with app.run_test(size=size) as pilot:
        yield pilot
