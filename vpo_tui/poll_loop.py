"""Drives a `Poller` inside Textual: one request at a time, one one-shot timer re-armed after it.

The poller (pure) decides; this class does the two things it cannot: run the request as a
Textual worker and arm the timer. There is never an interval timer: the next poll is scheduled
only when the previous request has ended, so a slow daemon can never stack requests, and a
request that runs past the timeout counts as a failure instead of hanging the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

from textual.dom import DOMNode

from vpo.client import ApiError, DaemonUnreachable, VpoError
from vpo_tui.poller import Outcome, Poller


class Cancellable(Protocol):
    def stop(self) -> None: ...


# schedule(delay_seconds, callback) -> handle with stop(); Textual's set_timer by default. Tests
# inject a manual scheduler so minute-long backoffs are checked without waiting minutes.
Scheduler = Callable[[float, Callable[[], None]], Cancellable]


class PollLoop:
    """One screen's polling loop.

    `fetch` performs the request(s) and applies what it got; it returns "ok" or "not_modified",
    and raises on failure. Any exception counts as a failure (the rules name network errors,
    timeouts and 5xx; a 401 or a garbled answer is also not "connected", and must never reach
    Textual's loop). `on_state` is called after every request and on pause/resume, so the status
    line follows.
    """

    def __init__(
        self,
        owner: DOMNode,
        poller: Poller,
        fetch: Callable[[], Awaitable[Outcome]],
        *,
        on_state: Callable[[], None] | None = None,
        scheduler: Scheduler | None = None,
        name: str = "poll",
    ) -> None:
        self.owner = owner
        self.poller = poller
        self.fetch = fetch
        self.on_state = on_state or (lambda: None)
        self.scheduler = scheduler
        self.name = name
        self.last_error: str | None = None
        self.denied_status: int | None = None  # 401 or 403 while the daemon refuses us
        self.requests_started = 0
        self.requests_finished = 0
        self._timer: Cancellable | None = None

    # -- public ------------------------------------------------------------------------------

    def start(self) -> None:
        """First poll, at once."""
        self.poll_now()

    def poll_now(self, *, force: bool = False) -> None:
        """Poll at once (or right after the request in flight); `force` works while paused."""
        if self.poller.request_now(force=force):
            self._begin(force=force)

    def job_started(self) -> None:
        """This client just submitted a job: back to the configured interval at once, not after
        the idle wait the daemon last hinted (docs/design.md §7). The New-scan flow calls this,
        then `poll_now()`."""
        delay = self.poller.reset_hint()
        if delay is not None:
            self._arm(delay)
        self.on_state()

    def pause(self, reason: str) -> None:
        self.poller.pause(reason)
        self._cancel_timer()
        self.on_state()

    def resume(self, reason: str) -> None:
        if self.poller.resume(reason):
            self._begin()
        self.on_state()

    def stop(self) -> None:
        self.poller.stop()
        self._cancel_timer()
        self.on_state()

    @property
    def timer_armed(self) -> bool:
        return self._timer is not None

    # -- the cycle ---------------------------------------------------------------------------

    def _begin(self, *, force: bool = False) -> None:
        ticket = self.poller.begin(force=force)
        if ticket is None:
            return
        self._cancel_timer()
        self.requests_started += 1
        self.owner.run_worker(
            self._run(ticket),
            name=self.name,
            group=self.name,
            exit_on_error=False,
            exclusive=False,
        )

    async def _run(self, ticket: int) -> None:
        outcome: Outcome = "fail"
        try:
            outcome = await asyncio.wait_for(self.fetch(), timeout=self.poller.request_timeout_s)
            self.last_error = None
            self.denied_status = None
        except asyncio.CancelledError:
            # Nothing to record. When the screen is going away the poller is already stopped and
            # nothing follows; any other cancellation must not end the loop (liveness).
            delay = self.poller.abandon(ticket)
            if delay is not None:
                self._schedule_next(delay)
            raise
        except TimeoutError:
            self.last_error = f"no answer within {self.poller.request_timeout_s:g} s"
        except DaemonUnreachable as exc:
            self.last_error = exc.reason  # short: the status line is one row
        except ApiError as exc:
            self.last_error = f"HTTP {exc.status}: {exc.message}"
            if exc.status in (401, 403):
                outcome = "denied"
                self.denied_status = exc.status
        except VpoError as exc:
            self.last_error = str(exc)
        except Exception as exc:  # bad JSON or a bug in applying the answer: show, never crash
            self.last_error = f"{type(exc).__name__}: {exc}"
        delay = self.poller.finish(ticket, outcome)
        self.requests_finished += 1
        if delay is not None:
            self._schedule_next(delay)
        self.on_state()

    def _schedule_next(self, delay: float) -> None:
        """Exactly one follow-up: a timer, or the next request at once when no wait is due.

        A zero delay must never become a timer: Textual's `Timer` divides by its interval when it
        catches up, so a zero-interval timer dies without firing. That silent death is what froze
        the jobs list after two quick filter keys (the second key asked for a poll "right after"
        the one in flight, which armed a zero-delay timer that never fired).
        """
        if delay <= 0:
            self._cancel_timer()
            self._begin()
        else:
            self._arm(delay)

    def _arm(self, delay: float) -> None:
        self._cancel_timer()
        if self.scheduler is not None:
            self._timer = self.scheduler(delay, self._on_timer)
        else:
            self._timer = self.owner.set_timer(delay, self._on_timer, name=self.name)

    def _on_timer(self) -> None:
        self._timer = None
        self._begin()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
