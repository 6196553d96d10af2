"""The TUI's pure poller against the shared polling vectors and the rules of docs/design.md §7."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vpo.poll_hint import parse_hint
from vpo_tui.poller import CONNECTED, OFFLINE, RECONNECTING, Poller, load_rules

SHARED = json.loads((Path(__file__).parents[1] / "polling_vectors.json").read_text())
VECTORS = SHARED["vectors"]


class FakeClock:
    """Manual time: the poller's countdown must be checked without waiting real minutes."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_vectors_file_is_not_empty() -> None:
    assert len(VECTORS) >= 5
    assert sum(len(v["steps"]) for v in VECTORS) >= 30


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_every_shared_vector(vector: dict) -> None:
    clock = FakeClock()
    poller = Poller(vector["interval_ms"], clock=clock)
    poller.set_busy_interval_ms(vector.get("busy_interval_ms", vector["interval_ms"]))
    for index, step in enumerate(vector["steps"]):
        ticket = poller.begin()
        assert ticket is not None, f"step {index}: poller refused to start a request"
        poller.note_hint(step.get("hint_ms"))
        delay_s = poller.finish(ticket, step["outcome"])
        where = f"{vector['name']} step {index}"
        assert poller.failures == step["failures"], where
        assert poller.state == step["state"], where
        assert delay_s is not None, where
        assert round(delay_s * 1000) == step["delay_ms"], where
        if "submit_after_ms" in step:
            clock.now += step["submit_after_ms"] / 1000
            poller.reset_hint()
            until_next = poller.seconds_until_next()
            assert until_next is not None, where
            assert round(until_next * 1000) == step["next_poll_after_submit_ms"], where
            clock.now += until_next
        else:
            clock.now += delay_s


def test_vectors_cover_the_hint() -> None:
    hinted = [v for v in VECTORS if any("hint_ms" in step for step in v["steps"])]
    assert len(hinted) >= 5
    assert any("submit_after_ms" in step for v in hinted for step in v["steps"])


@pytest.mark.parametrize("case", SHARED["hint_headers"], ids=lambda case: repr(case["header"]))
def test_hint_headers_read_like_polling_js(case: dict) -> None:
    assert parse_hint(case["header"]) == case["ms"]


def test_the_idle_hint_stretches_staleness_too() -> None:
    """A loop waiting 20 s on an idle daemon's word is not "stale" after 15 s."""
    clock = FakeClock()
    poller = Poller(5000, clock=clock)
    ticket = poller.begin()
    poller.note_hint(20000)
    assert poller.finish(ticket, "ok") == 20.0
    clock.now += 19
    assert not poller.is_stale()
    assert poller.stale_after_s == 30.0


def test_a_hint_only_counts_for_the_answer_it_came_with() -> None:
    poller = Poller(5000)
    ticket = poller.begin()
    poller.note_hint(20000)
    assert poller.finish(ticket, "ok") == 20.0
    # The next answer says nothing (the fetch did not note one): the interval again.
    assert poller.finish(poller.begin(), "not_modified") == 5.0


def test_rules_come_from_the_packaged_file() -> None:
    rules = load_rules()
    assert rules.interval_default_ms == 5000
    assert (rules.interval_min_ms, rules.interval_max_ms) == (2000, 60000)
    assert rules.request_timeout_ms == 10000
    assert [rules.delay_ms(n, 5000) for n in range(1, 9)] == [
        5000, 5000, 10000, 20000, 40000, 80000, 120000, 120000,
    ]  # fmt: skip
    # A week of failures must not build a giant number.
    assert rules.delay_ms(10_000, 5000) == 120000


def test_interval_is_clamped_and_log_interval_never_below_it() -> None:
    rules = load_rules()
    assert Poller(500).interval_ms == 2000
    assert Poller(600_000).interval_ms == 60000
    assert Poller().interval_ms == 5000
    assert rules.log_interval_ms(20000, 15000) == 20000
    assert rules.log_interval_ms(5000, None) == 15000


def test_not_modified_is_a_success_that_resets_failures() -> None:
    clock = FakeClock()
    poller = Poller(5000, clock=clock)
    for _ in range(4):
        poller.finish(poller.begin(), "fail")
    assert poller.state == OFFLINE
    delay = poller.finish(poller.begin(), "not_modified")
    assert (poller.state, poller.failures, delay) == (CONNECTED, 0, 5.0)
    assert poller.last_success_at == clock.now


def test_only_one_request_at_a_time() -> None:
    poller = Poller(5000)
    ticket = poller.begin()
    assert ticket is not None
    assert poller.in_flight
    assert poller.begin() is None
    assert poller.request_now() is False  # asks for a follow-up instead of a second request
    assert poller.finish(ticket, "ok") == 0.0
    assert poller.begin() is not None


def test_pause_stops_scheduling_and_resume_polls_at_once() -> None:
    clock = FakeClock()
    poller = Poller(5000, clock=clock)
    poller.finish(poller.begin(), "ok")
    assert poller.seconds_until_next() == 5.0
    poller.pause("focus")
    assert poller.paused
    assert poller.seconds_until_next() is None
    assert poller.begin() is None  # a timer that fires anyway sends nothing
    assert poller.resume("focus") is True
    ticket = poller.begin()
    assert ticket is not None
    assert poller.finish(ticket, "ok") == 5.0


def test_quick_blur_focus_during_a_request_never_makes_a_second_loop() -> None:
    poller = Poller(5000)
    ticket = poller.begin()
    poller.pause("focus")
    assert poller.resume("focus") is False  # the request in flight is the loop
    assert poller.begin() is None
    # It ends after the resume: exactly one next poll, and it follows at once.
    assert poller.finish(ticket, "ok") == 0.0
    assert poller.begin() is not None


def test_request_ending_while_paused_arms_nothing() -> None:
    poller = Poller(5000)
    ticket = poller.begin()
    poller.pause("focus")
    assert poller.finish(ticket, "fail") is None
    assert poller.failures == 1 and poller.state == RECONNECTING
    assert poller.resume("focus") is True


def test_pause_reasons_stack() -> None:
    poller = Poller(5000)
    poller.pause("focus")
    poller.pause("user")
    assert poller.resume("focus") is False
    assert poller.paused
    assert poller.resume("nobody-asked") is False
    assert poller.resume("user") is True
    assert not poller.paused


def test_stop_and_stale_tickets() -> None:
    poller = Poller(5000)
    ticket = poller.begin()
    poller.stop()
    assert poller.finish(ticket, "ok") is None
    assert poller.begin() is None
    assert poller.request_now() is False
    poller.restart()
    fresh = poller.begin()
    assert fresh is not None and fresh != ticket


def test_restart_ignores_the_old_request() -> None:
    poller = Poller(5000)
    old = poller.begin()
    poller.restart()
    new = poller.begin()
    assert poller.finish(old, "fail") is None
    assert poller.failures == 0
    assert poller.finish(new, "ok") == 5.0


def test_offline_countdown_follows_the_clock() -> None:
    clock = FakeClock()
    poller = Poller(5000, clock=clock)
    for _ in range(3):
        poller.finish(poller.begin(), "fail")
    assert poller.state == OFFLINE
    assert poller.seconds_until_next() == 10.0
    clock.now += 7.5
    assert poller.seconds_until_next() == 2.5
    clock.now += 60
    assert poller.seconds_until_next() == 0.0


def test_forced_refresh_goes_out_while_paused_without_a_timer() -> None:
    poller = Poller(5000)
    poller.pause("user")
    assert poller.request_now() is False
    assert poller.request_now(force=True) is True
    ticket = poller.begin(force=True)
    assert ticket is not None
    assert poller.finish(ticket, "ok") is None
    assert poller.paused


def test_abandoned_request_records_nothing() -> None:
    poller = Poller(5000)
    ticket = poller.begin()
    poller.abandon(ticket)
    assert not poller.in_flight
    assert poller.failures == 0 and poller.last_outcome is None
    assert poller.finish(ticket, "fail") is None  # a late answer changes nothing
    assert poller.failures == 0
