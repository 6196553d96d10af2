"""The polling rules of docs/design.md §7 as a pure state machine.

The poller decides *when* the next request may go out and what the connection state is; it never
performs I/O. The Textual layer (`vpo_tui.poll_loop`) asks it for permission to start a request,
reports how the request ended, and arms a single one-shot timer with the delay the poller returns.
Keeping the decisions here means the rules are tested with plain values (the shared vectors in
`tests/polling_vectors.json`) and the same rules drive the web page's `polling.js`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Literal

from vpo.poll_hint import hinted_interval_ms

# "denied": the daemon answered 401/403. It is not a network failure: retrying on a timer cannot
# fix a token, so the loop waits for the user's refresh instead of backing off forever.
Outcome = Literal["ok", "not_modified", "fail", "denied"]
ConnectionState = Literal["connected", "reconnecting", "offline", "denied"]

CONNECTED: ConnectionState = "connected"
RECONNECTING: ConnectionState = "reconnecting"
OFFLINE: ConnectionState = "offline"
DENIED: ConnectionState = "denied"


@dataclass(frozen=True)
class PollingRules:
    """The constants of §7, read from `vpo/polling_rules.json` (the one source of truth)."""

    interval_default_ms: int
    interval_min_ms: int
    interval_max_ms: int
    log_interval_default_ms: int
    request_timeout_ms: int
    pause_within_ms: int
    failures_before_backoff: int
    initial_delay_ms: int
    multiplier: int
    max_delay_ms: int
    reconnecting_from: int
    offline_from: int
    hint_header: str = "X-Poll-Interval"
    idle_factor_default: int = 4

    @classmethod
    def from_mapping(cls, data: dict) -> PollingRules:
        backoff = data["backoff"]
        states = data["states"]
        return cls(
            interval_default_ms=int(data["interval_ms"]["default"]),
            interval_min_ms=int(data["interval_ms"]["min"]),
            interval_max_ms=int(data["interval_ms"]["max"]),
            log_interval_default_ms=int(data["log_interval_ms"]["default"]),
            request_timeout_ms=int(data["request_timeout_ms"]),
            pause_within_ms=int(data["pause_within_ms"]),
            failures_before_backoff=int(backoff["failures_before_backoff"]),
            initial_delay_ms=int(backoff["initial_delay_ms"]),
            multiplier=int(backoff["multiplier"]),
            max_delay_ms=int(backoff["max_delay_ms"]),
            reconnecting_from=int(states["reconnecting"]),
            offline_from=int(states["offline"]),
            hint_header=str(data["hint"]["header"]),
            idle_factor_default=int(data["hint"]["idle_factor_default"]),
        )

    def clamp_interval_ms(self, interval_ms: float) -> int:
        """An interval inside the allowed range (the daemon clamps too; never trust it blindly)."""
        return int(min(max(interval_ms, self.interval_min_ms), self.interval_max_ms))

    def hinted_interval_ms(
        self, interval_ms: int, hint_ms: int | None, busy_interval_ms: int
    ) -> int:
        """The wait after a success given the daemon's hint (the rule is `vpo.poll_hint`'s)."""
        return hinted_interval_ms(interval_ms, hint_ms, busy_interval_ms, self.interval_max_ms)

    def log_interval_ms(self, interval_ms: int, log_interval_ms: float | None) -> int:
        """The log interval is never below the status interval (§7)."""
        wanted = self.log_interval_default_ms if log_interval_ms is None else log_interval_ms
        return int(max(wanted, interval_ms))

    def delay_ms(self, failures: int, interval_ms: int) -> int:
        """Delay before the next poll after `failures` consecutive failures."""
        if failures < self.failures_before_backoff:
            return interval_ms
        exponent = failures - self.failures_before_backoff
        # Cap the exponent before computing so a week-long outage cannot build a huge integer.
        if exponent > 32:
            return self.max_delay_ms
        return int(min(self.initial_delay_ms * self.multiplier**exponent, self.max_delay_ms))

    def state_for(self, failures: int) -> ConnectionState:
        if failures >= self.offline_from:
            return OFFLINE
        if failures >= self.reconnecting_from:
            return RECONNECTING
        return CONNECTED


def load_rules() -> PollingRules:
    """Read the packaged rules file (shipped inside `vpo`, shared with the web client)."""
    text = resources.files("vpo").joinpath("polling_rules.json").read_text(encoding="utf-8")
    return PollingRules.from_mapping(json.loads(text))


class Poller:
    """One polling loop's decisions: backoff, connection state, pauses, one request at a time.

    Protocol for the caller:
      ticket = poller.begin()          # None means "do not send now" (paused, busy or stopped)
      ... send the request with a timeout of `request_timeout_s` ...
      delay = poller.finish(ticket, outcome)   # seconds until the one next poll, or None
    The caller arms exactly one timer with `delay` and calls `begin()` again when it fires. Because
    `begin()` refuses while a request is in flight, a resume or a "refresh now" during a request can
    never start a second loop; it only asks for the next poll to follow at once.
    """

    def __init__(
        self,
        interval_ms: float | None = None,
        *,
        rules: PollingRules | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rules = rules or load_rules()
        self.clock = clock
        self.interval_ms = self.rules.clamp_interval_ms(
            self.rules.interval_default_ms if interval_ms is None else interval_ms
        )
        # The daemon's own configured interval: a hint above it means "idle" (see
        # `PollingRules.hinted_interval_ms`). Until the daemon's settings are read, our own.
        self.busy_interval_ms = self.interval_ms
        self.hint_ms: int | None = None  # from the last successful answer
        self._answer_hint: int | None = None  # from the answer of the request in flight
        self.failures = 0
        self.last_outcome: Outcome | None = None
        self.last_success_at: float | None = None
        self.next_poll_at: float | None = None
        self._pause_reasons: set[str] = set()
        self._in_flight: int | None = None
        self._generation = 0
        self._poll_right_after = False
        self._stopped = False
        self._denied = False
        self._hurry_polls = 0
        self._hurry_delay_s = 0.0

    # -- state ------------------------------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        if self._denied:
            return DENIED
        return self.rules.state_for(self.failures)

    @property
    def denied(self) -> bool:
        return self._denied

    @property
    def effective_interval_ms(self) -> int:
        """The wait after a success: the interval, lengthened by an idle daemon's hint."""
        return self.rules.hinted_interval_ms(self.interval_ms, self.hint_ms, self.busy_interval_ms)

    @property
    def stale_after_s(self) -> float:
        """A connected loop has had a success within one interval plus one request timeout."""
        return (self.effective_interval_ms + self.rules.request_timeout_ms) / 1000

    def seconds_since_success(self) -> float | None:
        if self.last_success_at is None:
            return None
        return max(0.0, self.clock() - self.last_success_at)

    def is_stale(self) -> bool:
        """Connected by the failure count, yet no success for longer than a poll can take.

        Only an active loop can be stale; a paused or stopped one is merely idle.
        """
        age = self.seconds_since_success()
        return (
            self.state == CONNECTED
            and not self.paused
            and not self._stopped
            and age is not None
            and age > self.stale_after_s
        )

    @property
    def paused(self) -> bool:
        return bool(self._pause_reasons)

    @property
    def pause_reasons(self) -> frozenset[str]:
        return frozenset(self._pause_reasons)

    @property
    def in_flight(self) -> bool:
        return self._in_flight is not None

    @property
    def stopped(self) -> bool:
        return self._stopped

    @property
    def request_timeout_s(self) -> float:
        return self.rules.request_timeout_ms / 1000

    def set_interval_ms(self, interval_ms: float) -> None:
        self.interval_ms = self.rules.clamp_interval_ms(interval_ms)

    def set_busy_interval_ms(self, interval_ms: float) -> None:
        """The daemon's configured interval (GET /api/config/polling), the hint's yardstick."""
        self.busy_interval_ms = self.rules.clamp_interval_ms(interval_ms)

    def note_hint(self, hint_ms: int | None) -> None:
        """The `X-Poll-Interval` of the answer to the request in flight (None: none sent).

        It takes effect when that request finishes as a success; a failure forgets any hint,
        since nothing is known about the daemon then.
        """
        self._answer_hint = hint_ms

    def reset_hint(self) -> float | None:
        """This client just started a job (a submit): back to the configured interval at once.

        Forgets the idle hint; a poll already scheduled further out than one interval is
        brought forward to one interval from now. Returns the new delay in seconds when the
        caller must re-arm its timer, else None.
        """
        self.hint_ms = None
        if self.next_poll_at is None or self._stopped or self.paused:
            return None
        soonest = self.clock() + self.interval_ms / 1000
        if self.next_poll_at <= soonest:
            return None
        self.next_poll_at = soonest
        return self.interval_ms / 1000

    def seconds_until_next(self) -> float | None:
        """Time to the scheduled poll (for the offline countdown); None when none is scheduled."""
        if self.next_poll_at is None or self.paused or self._stopped:
            return None
        return max(0.0, self.next_poll_at - self.clock())

    # -- request cycle ----------------------------------------------------------------------

    def begin(self, *, force: bool = False) -> int | None:
        """Permission to send one request now; returns a ticket, or None to send nothing.

        `force` is the user's explicit refresh: it goes out even while paused (no timer follows).
        """
        blocked = self.paused or self._denied
        if self._stopped or (blocked and not force) or self._in_flight is not None:
            return None
        self._in_flight = self._generation
        self._answer_hint = None
        self._poll_right_after = False
        self.next_poll_at = None
        return self._generation

    def finish(self, ticket: int, outcome: Outcome) -> float | None:
        """Record how the request ended; returns seconds until the next poll, or None for no timer.

        A 304 (`not_modified`) is a success with nothing to apply. A stale ticket (the loop was
        stopped or reset while the request was out) changes nothing.
        """
        if ticket != self._in_flight:
            return None
        self._in_flight = None
        if ticket != self._generation:
            return None
        self.last_outcome = outcome
        self._denied = outcome == "denied"
        if outcome == "denied":
            pass  # says nothing about the network: keep the failure count
        elif outcome == "fail":
            self.failures += 1
        else:
            self.failures = 0
            self.last_success_at = self.clock()
        self.hint_ms = self._answer_hint if outcome in ("ok", "not_modified") else None
        return self._next_delay()

    def abandon(self, ticket: int) -> float | None:
        """The request was cancelled: free the slot, record nothing.

        Returns seconds until the next poll like `finish`, or None when no poll should follow
        (stopped, paused, or a stale ticket). A cancelled request is not a failure, but the loop
        must go on unless it was stopped: a loop with nothing in flight and no timer is dead.
        """
        if ticket != self._in_flight:
            return None
        self._in_flight = None
        if ticket != self._generation:
            return None
        return self._next_delay()

    def _next_delay(self) -> float | None:
        """When the one next poll is due after a request ended (None: paused, stopped, denied)."""
        if self._stopped or self.paused or self._denied:
            self.next_poll_at = None
            return None
        if self._poll_right_after:
            self._poll_right_after = False
            delay_s = 0.0
        else:
            delay_s = self.rules.delay_ms(self.failures, self.effective_interval_ms) / 1000
            if self._hurry_polls > 0 and self.failures == 0:
                self._hurry_polls -= 1
                delay_s = min(delay_s, self._hurry_delay_s)
        self.next_poll_at = self.clock() + delay_s
        return delay_s

    def hurry(self, polls: int, delay_s: float) -> None:
        """Poll sooner for the next `polls` successful polls (0 ends it).

        After a user's action whose effect the daemon shows within a second (a cancel), the
        screen should follow within a second too, not at the next regular tick. Bounded, so it
        never turns into a fast loop; failures back off as usual.
        """
        self._hurry_polls = max(0, polls)
        self._hurry_delay_s = delay_s

    def request_now(self, *, force: bool = False) -> bool:
        """The user (or a resume) wants fresh data: True means "begin() now".

        While a request is in flight the answer is False and the next poll follows right after it
        ends, so there is still only one loop. `force` (the user's `r`) ignores pauses and a
        refusal (401/403): only the user can retry after fixing the token.
        """
        if self._stopped or ((self.paused or self._denied) and not force):
            return False
        if self._in_flight is not None:
            self._poll_right_after = True
            return False
        return True

    # -- pause / resume / stop --------------------------------------------------------------

    def pause(self, reason: str) -> None:
        """Stop scheduling polls until every reason is lifted (focus lost, user pause, hidden)."""
        self._pause_reasons.add(reason)
        self.next_poll_at = None

    def resume(self, reason: str) -> bool:
        """Lift one pause reason; True means the caller should poll at once (§7: resume fetches)."""
        if reason not in self._pause_reasons:
            return False
        self._pause_reasons.discard(reason)
        if self._pause_reasons:
            return False
        return self.request_now()

    def stop(self) -> None:
        """End the loop for good (a terminal job's detail view after its final fetch)."""
        self._stopped = True
        self.next_poll_at = None

    def restart(self) -> None:
        """Forget a stop and any in-flight request (their results will be ignored)."""
        self._stopped = False
        self._generation += 1
        self._in_flight = None
        self._poll_right_after = False
        self.next_poll_at = None
