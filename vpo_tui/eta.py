"""A rate and a time left for a running job, from the progress seen at each poll (pure).

A raw "remaining / last rate" jumps with every poll (a big file, a burst of unchanged ones), and
an estimate that jumps is worse than none. So the rate is smoothed (an exponentially weighted
mean of the rates between samples, weighted by the time each covered), shown only once it is
stable (enough samples, spanning enough time, and the mean no longer moving much), and the time
left is hidden whenever a new estimate would disagree with the one shown, moved on by the time
that passed, by more than a tolerance; it comes back once the estimates agree again.
"""

from __future__ import annotations

from dataclasses import dataclass

# Each sample's weight in the mean, per second it covers: a 5 s poll interval gives ~0.4.
SMOOTHING_PER_SECOND = 0.1
MIN_SAMPLES = 3  # rates between samples, not samples: three intervals
MIN_SPAN_S = 10.0
STABLE_CHANGE = 0.25  # the mean moved by less than this fraction at the last sample
JUMP_TOLERANCE = 0.3  # of the time left shown, or
JUMP_FLOOR_S = 20.0  # seconds, whichever is larger


@dataclass(frozen=True)
class Estimate:
    rate_per_s: float | None  # files per second, None until stable
    seconds_left: float | None  # None when unknown or it would jump


@dataclass(frozen=True)
class _Sample:
    at: float
    done: int


class EtaEstimator:
    """Feed `(time, files done, files in all)` at each poll; read `estimate()`.

    A sample with fewer files done than the last (a new attempt after a restart) starts over.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget every sample (a new attempt of the job)."""
        self._last: _Sample | None = None
        self._first_at: float | None = None
        self._rate: float | None = None
        self._intervals = 0
        self._last_change = 1.0
        self._total: int | None = None
        self._shown: tuple[float, float] | None = None  # (at, seconds left) last judged

    def add(self, at: float, done: int, total: int | None) -> Estimate:
        """Record one poll's progress and return the estimate to show now."""
        self._total = total
        last = self._last
        if last is None or done < last.done or at < last.at:
            self.reset()
            self._total = total
            self._last = _Sample(at, done)
            self._first_at = at
            return self.estimate(at)
        elapsed = at - last.at
        if elapsed <= 0:
            return self.estimate(at)
        rate = (done - last.done) / elapsed
        if self._rate is None:
            self._rate = rate
            self._last_change = 1.0
        else:
            weight = min(1.0, SMOOTHING_PER_SECOND * elapsed)
            new = self._rate + weight * (rate - self._rate)
            self._last_change = abs(new - self._rate) / max(self._rate, 1e-9)
            self._rate = new
        self._intervals += 1
        self._last = _Sample(at, done)
        return self.estimate(at)

    @property
    def stable(self) -> bool:
        if self._rate is None or self._rate <= 0 or self._first_at is None or self._last is None:
            return False
        return (
            self._intervals >= MIN_SAMPLES
            and self._last.at - self._first_at >= MIN_SPAN_S
            and self._last_change < STABLE_CHANGE
        )

    def estimate(self, at: float) -> Estimate:
        if not self.stable or self._last is None:
            self._shown = None
            return Estimate(None, None)
        rate = self._rate
        assert rate is not None
        if self._total is None or self._total < self._last.done:
            self._shown = None
            return Estimate(rate, None)
        left = (self._total - self._last.done) / rate
        if self._shown is not None:
            shown_at, shown_left = self._shown
            expected = max(0.0, shown_left - (at - shown_at))
            if abs(left - expected) > max(JUMP_TOLERANCE * expected, JUMP_FLOOR_S):
                # Would jump: show nothing this time, and judge the next one against this.
                self._shown = (at, left)
                return Estimate(rate, None)
        self._shown = (at, left)
        return Estimate(rate, left)


def rate_text(rate_per_s: float) -> str:
    if rate_per_s >= 10:
        return f"{rate_per_s:,.0f} files/s"
    if rate_per_s >= 1:
        return f"{rate_per_s:.1f} files/s"
    return f"{rate_per_s * 60:.1f} files/min"
