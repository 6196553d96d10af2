"""Pure parts of `vpo scan` following a daemon's scan: the poll delay under the polling rules."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from vpo.commands.scan import poll_delay
from vpo.config import polling_rules

RULES = polling_rules()


def test_the_interval_until_failures_repeat_then_the_backoff_doubles_to_its_cap() -> None:
    delays = [poll_delay(failures, 5.0, RULES) for failures in range(8)]
    assert delays == [5.0, 5.0, 5.0, 10.0, 20.0, 40.0, 80.0, 120.0]


@given(st.integers(min_value=0, max_value=10**9), st.floats(min_value=2, max_value=60))
def test_a_delay_is_never_below_the_interval_nor_above_the_cap(failures, interval) -> None:
    delay = poll_delay(failures, interval, RULES)
    cap = RULES["backoff"]["max_delay_ms"] / 1000
    assert min(interval, cap) <= delay <= max(interval, cap)
