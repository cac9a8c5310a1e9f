"""The forecast of a job's completion time: its mathematics and what moves it.

How the waits chosen from it perform is tests/unit/test_wait_policy.py's and `make bench`'s
business.
"""

from __future__ import annotations

import math
import random

import pytest

from videohook.completion_forecast import Component, Forecast, PollObservation, forecast
from videohook.completion_times import history_stats

# A kind that takes ~100 s, give or take 10%.
HISTORY = history_stats([100 * math.exp(random.Random(7).gauss(0, 0.1)) for _ in range(32)])


def test_integrated_survival_matches_numeric_integration() -> None:
    mixture = Forecast((Component(0.9, math.log(100), 0.15), Component(0.1, math.log(200), 0.8)), "test")
    for a, b in [(0.0, 50.0), (80.0, 120.0), (150.0, 400.0)]:
        steps = 20_000
        h = (b - a) / steps
        numeric = sum(mixture.survival(a + (i + 0.5) * h) for i in range(steps)) * h
        assert mixture.integrated_survival(a, b) == pytest.approx(numeric, rel=1e-4, abs=1e-6)
    assert mixture.median() == pytest.approx(
        next(x for x in range(1, 1000) if mixture.survival(x) <= 0.5), abs=1.0
    )


def test_the_median_after_a_time_is_the_conditional_median() -> None:
    mixture = Forecast((Component(0.9, math.log(100), 0.15), Component(0.1, math.log(200), 0.8)), "test")
    assert mixture.median(after=0.0) == pytest.approx(mixture.median())
    for after in (50.0, 100.0, 180.0, 600.0):
        later = mixture.median(after=after)
        assert later > after  # a job not done now is expected later than now
        assert mixture.survival(later) == pytest.approx(0.5 * mixture.survival(after), rel=1e-6)
    ruled_out = Forecast((Component(1.0, math.log(10), 0.01),), "test")
    assert ruled_out.median(after=1000.0) == 1000.0  # no information: due now


def test_progress_moves_the_forecast() -> None:
    slow = forecast(PollObservation(elapsed=50, progress=20, changed_elapsed=30, changed_progress=10))
    fast = forecast(PollObservation(elapsed=50, progress=80, changed_elapsed=30, changed_progress=60))
    assert fast.median() < slow.median()
    assert fast.source == "formula+progress"
    assert forecast(PollObservation(elapsed=50, progress=None)).source == "formula"
    assert forecast(PollObservation(elapsed=50, history=HISTORY, queued=True)).source == "history+start"
