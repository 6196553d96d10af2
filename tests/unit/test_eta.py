"""The smoothed rate and time left of vpo_tui/eta.py: shown only when stable, never jumping."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from vpo_tui.eta import (
    JUMP_FLOOR_S,
    JUMP_TOLERANCE,
    MIN_SAMPLES,
    EtaEstimator,
    rate_text,
)


def feed(samples: list[tuple[float, int, int | None]]):
    estimator = EtaEstimator()
    return estimator, [estimator.add(at, done, total) for at, done, total in samples]


def test_nothing_until_stable_then_the_true_time_left_at_a_steady_rate() -> None:
    _, estimates = feed([(5.0 * i, 10 * i, 1000) for i in range(8)])
    assert all(e.seconds_left is None for e in estimates[:MIN_SAMPLES])
    last = estimates[-1]
    assert last.rate_per_s == 2.0
    assert last.seconds_left == (1000 - 70) / 2.0


def test_an_unknown_total_shows_the_rate_but_no_time_left() -> None:
    _, estimates = feed([(5.0 * i, 10 * i, None) for i in range(8)])
    assert estimates[-1].rate_per_s == 2.0 and estimates[-1].seconds_left is None


def test_a_stalled_job_shows_neither() -> None:
    _, estimates = feed([(5.0 * i, 0, 100) for i in range(8)])
    assert estimates[-1] == estimates[0]
    assert estimates[-1].rate_per_s is None and estimates[-1].seconds_left is None


def test_a_sudden_change_hides_the_time_left_instead_of_jumping() -> None:
    estimator, estimates = feed([(5.0 * i, 10 * i, 10_000) for i in range(10)])
    assert estimates[-1].seconds_left is not None
    # The files turn big: ten times slower for a while.
    shown = []
    done = 90
    for i in range(10, 40):
        done += 1
        shown.append(estimator.add(5.0 * i, done, 10_000).seconds_left)
    assert None in shown  # hidden while the rate settles ...
    assert shown[-1] is not None  # ... and back once it has


def test_fewer_files_done_than_before_starts_over() -> None:
    estimator, _ = feed([(5.0 * i, 10 * i, 1000) for i in range(8)])
    assert estimator.add(45.0, 0, 1000).rate_per_s is None


def test_rate_text() -> None:
    assert rate_text(25.4) == "25 files/s"
    assert rate_text(2.25) == "2.2 files/s"
    assert rate_text(0.5) == "30.0 files/min"


@given(
    st.lists(
        st.tuples(st.floats(min_value=0.5, max_value=30), st.integers(min_value=0, max_value=50)),
        min_size=1,
        max_size=60,
    ),
    st.one_of(st.none(), st.integers(min_value=0, max_value=5000)),
)
def test_shown_times_never_jump_and_are_never_negative(steps, total) -> None:
    estimator = EtaEstimator()
    at, done = 0.0, 0
    previous: tuple[float, float] | None = None
    estimator.add(at, done, total)
    for gap, files in steps:
        at += gap
        done += files
        estimate = estimator.add(at, done, total)
        if estimate.rate_per_s is not None:
            assert estimate.rate_per_s > 0
        if estimate.seconds_left is None:
            previous = None
            continue
        assert total is not None and estimate.seconds_left >= 0
        if previous is not None:
            expected = max(0.0, previous[1] - (at - previous[0]))
            jump = abs(estimate.seconds_left - expected)
            assert jump <= max(JUMP_TOLERANCE * expected, JUMP_FLOOR_S) + 1e-6
        previous = (at, estimate.seconds_left)
