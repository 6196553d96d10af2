"""The liveness invariant of a polling loop, checked by Hypothesis over random action sequences.

While a screen is visible and neither paused nor stopped, exactly one of {a request in flight,
a live timer armed} holds, and there are never two requests out. Hypothesis drives a real
`PollLoop` + `Poller` with every user action that touches polling (filter/sort/page/search
changes, refresh, pause/resume, focus lost/regained, detail open/close, cancel, screen close)
interleaved with every way a request can end (ok, 304, failure, timeout, hang, cancellation).

Two things are fake, because the real ones cannot be stepped by a test: the scheduler (the
timers fire when a rule says so) and the fetch (each call waits on a future a rule resolves).
The scheduler models Textual's real `Timer` faithfully in one respect that matters: a timer
armed with a zero delay never fires (Textual 8's skip arithmetic divides by the interval and
its task dies), which is how the jobs list used to freeze after two quick filter keys.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.tui.harness import ManualTimer
from vpo.client import ApiError, DaemonUnreachable
from vpo_tui.poll_loop import PollLoop
from vpo_tui.poller import Outcome, Poller


class FakeTimer(ManualTimer):
    @property
    def live(self) -> bool:
        """Armed and able to fire: Textual never fires a zero-interval timer."""
        return not self.stopped and not self.fired and self.delay > 0


class FakeOwner:
    """Stands in for the screen: runs workers as tasks on the test's own event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.tasks: list[asyncio.Task[None]] = []

    def run_worker(self, work: Coroutine[Any, Any, None], **_kwargs: object) -> asyncio.Task:
        task = self.loop.create_task(work)
        self.tasks.append(task)
        return task

    def set_timer(self, *_args: object, **_kwargs: object) -> None:
        raise AssertionError("the loop must use the injected scheduler")


class PollLoopMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.aio = asyncio.new_event_loop()
        self.owner = FakeOwner(self.aio)
        self.timers: list[FakeTimer] = []
        self.pending: list[asyncio.Future[Outcome]] = []
        self.fetches_running = 0
        self.max_fetches_running = 0
        self.poller = Poller(5000, clock=lambda: 0.0)
        self.loop = PollLoop(
            self.owner,  # type: ignore[arg-type]
            self.poller,
            self._fetch,
            scheduler=self._schedule,
        )
        self.screen_closed = False
        self.loop.start()
        self._settle()

    def teardown(self) -> None:
        self.loop.stop()
        for task in self.owner.tasks:
            task.cancel()
        self._settle()
        self.aio.close()

    # -- the fakes ---------------------------------------------------------------------------

    def _schedule(self, delay: float, callback: Callable[[], None]) -> FakeTimer:
        timer = FakeTimer(delay, callback)
        self.timers.append(timer)
        return timer

    async def _fetch(self) -> Outcome:
        future: asyncio.Future[Outcome] = self.aio.create_future()
        self.pending.append(future)
        self.fetches_running += 1
        self.max_fetches_running = max(self.max_fetches_running, self.fetches_running)
        try:
            return await future
        finally:
            self.fetches_running -= 1
            if future in self.pending:
                self.pending.remove(future)

    def _settle(self) -> None:
        """Run every ready task until nothing moves (a request's whole aftermath)."""

        async def spin() -> None:
            for _ in range(20):
                await asyncio.sleep(0)

        self.aio.run_until_complete(spin())

    @property
    def live_timers(self) -> list[FakeTimer]:
        return [t for t in self.timers if t.live]

    @property
    def visible_and_running(self) -> bool:
        """The loop should be live: shown, not paused, not stopped, not refused (401/403)."""
        return (
            not self.screen_closed
            and not self.poller.paused
            and not self.poller.stopped
            and not self.poller.denied
        )

    # -- how requests end ----------------------------------------------------------------------

    @precondition(lambda self: self.pending)
    @rule(
        outcome=st.sampled_from(
            ["ok", "not_modified", "fail", "timeout", "garbled", "server_error", "unauthorized"]
        )
    )
    def answer(self, outcome: str) -> None:
        future = self.pending[0]
        if outcome == "fail":
            future.set_exception(DaemonUnreachable("http://127.0.0.1:1", "connection refused"))
        elif outcome == "timeout":
            # What asyncio.wait_for raises once the request timeout has passed.
            future.set_exception(TimeoutError())
        elif outcome == "server_error":
            future.set_exception(ApiError(500, "INTERNAL", "boom"))
        elif outcome == "unauthorized":
            future.set_exception(ApiError(401, "UNAUTHORIZED", "token needed"))
        elif outcome == "garbled":
            future.set_exception(ValueError("not JSON"))
        else:
            future.set_result(outcome)  # type: ignore[arg-type]
        self._settle()

    @precondition(lambda self: self.pending)
    @rule()
    def request_cancelled(self) -> None:
        # The fetch itself is cancelled (as httpx does when its connection pool is closed).
        self.pending[0].cancel()
        self._settle()

    @rule()
    def hang(self) -> None:
        """Time passes without an answer (the request, if any, stays out)."""
        self._settle()

    # -- timers --------------------------------------------------------------------------------

    @precondition(lambda self: self.live_timers)
    @rule()
    def fire_timer(self) -> None:
        timer = self.live_timers[0]
        timer.fired = True
        timer.callback()
        self._settle()

    # -- user actions --------------------------------------------------------------------------

    @precondition(lambda self: not self.screen_closed)
    @rule(times=st.integers(min_value=1, max_value=3))
    def change_query(self, times: int) -> None:
        """A filter, sort, page or search change: the rows must follow at once."""
        for _ in range(times):
            self.loop.poll_now()
        self._settle()

    @precondition(lambda self: not self.screen_closed)
    @rule()
    def refresh(self) -> None:
        self.loop.poll_now(force=True)
        self._settle()

    @precondition(lambda self: not self.screen_closed)
    @rule(reason=st.sampled_from(["user", "focus", "hidden", "disabled"]))
    def pause(self, reason: str) -> None:
        self.loop.pause(reason)
        self._settle()

    @precondition(lambda self: not self.screen_closed)
    @rule(reason=st.sampled_from(["user", "focus", "hidden", "disabled"]))
    def resume(self, reason: str) -> None:
        self.loop.resume(reason)
        self._settle()

    @precondition(lambda self: not self.screen_closed)
    @rule()
    def open_and_close_detail(self) -> None:
        self.loop.pause("hidden")
        self._settle()
        self.loop.resume("hidden")
        self._settle()

    @precondition(lambda self: not self.screen_closed)
    @rule()
    def cancel_a_job(self) -> None:
        # After the cancel's answer the screen asks for fresh rows.
        self.loop.poll_now()
        self._settle()

    @precondition(lambda self: not self.screen_closed)
    @rule()
    def close_screen(self) -> None:
        """Textual stops the loop on unmount, then cancels the screen's workers."""
        self.loop.stop()
        for task in self.owner.tasks:
            task.cancel()
        self.screen_closed = True
        self._settle()

    # -- the invariant -------------------------------------------------------------------------

    @invariant()
    def never_two_requests(self) -> None:
        assert self.max_fetches_running <= 1, "two requests were out at once"

    @invariant()
    def exactly_one_of_in_flight_or_timer(self) -> None:
        if not self.visible_and_running:
            if self.screen_closed:
                assert not self.live_timers, "a closed screen still has a timer armed"
            return
        in_flight = self.poller.in_flight
        armed = len(self.live_timers)
        assert armed <= 1, f"{armed} timers armed"
        assert in_flight != (armed == 1), (
            f"in flight: {in_flight}, live timers: {armed} "
            f"(dead timers: {[t.delay for t in self.timers if not t.live and not t.fired]})"
        )

    @invariant()
    def a_refused_loop_waits_for_the_user(self) -> None:
        """No backoff loop against a 401: nothing armed until the user refreshes."""
        if self.poller.denied:
            assert not self.live_timers

    @invariant()
    def loop_counters_agree_with_the_poller(self) -> None:
        if not self.poller.in_flight:
            assert self.fetches_running == 0 or self.screen_closed


MACHINE_SETTINGS = dict(
    stateful_step_count=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_liveness_with_a_fixed_seed() -> None:
    """Reproducible in CI: the same sequences every run."""
    run_state_machine_as_test(
        PollLoopMachine, settings=settings(derandomize=True, max_examples=300, **MACHINE_SETTINGS)
    )


def test_liveness_with_a_random_budget() -> None:
    """New sequences each run, bounded so CI stays quick."""
    run_state_machine_as_test(
        PollLoopMachine, settings=settings(max_examples=100, **MACHINE_SETTINGS)
    )
