"""The adaptive poll policy: pure, deterministic, always a whole number of seconds in bounds.

How it performs (polls and detection lag over 10,000 simulated jobs) is `make bench`'s
business; these tests pin down its logic.
"""

from __future__ import annotations

import itertools
import math
import random

import pytest

from videohook.completion_forecast import PollObservation, forecast
from videohook.completion_times import (
    expected_generation_seconds,
    history_stats,
)
from videohook.wait_policy import (
    MAX_ERROR_BACKOFF_SECONDS,
    MAX_RETRY_AFTER_SECONDS,
    MAX_WAIT_SECONDS,
    MIN_WAIT_SECONDS,
    first_plan,
    first_wait_seconds,
    lag_risk,
    next_wait_seconds,
    plan,
    plan_wait,
)

# A kind that takes ~100 s, give or take 10%.
HISTORY = history_stats([100 * math.exp(random.Random(7).gauss(0, 0.1)) for _ in range(32)])


def observation(**fields: object) -> PollObservation:
    """What a poll of an 8 s 720p job saw; `fields` replace or add fields."""
    values: dict[str, object] = {"duration": 8, "resolution": "720p"}
    values.update(fields)
    return PollObservation(**values)  # type: ignore[arg-type]


def wait(**fields: object) -> int:
    return plan_wait(observation(**fields))


def linear_job_waits(total: float, *, history=HISTORY, start: float = 0.0) -> list[tuple[float, int]]:
    """(elapsed, wait) of every poll of a job whose progress grows linearly to `total`."""
    t = float(first_wait_seconds(8, "720p", history))
    previous, changed, before = None, 0.0, 0
    trail = []
    while t < total:
        progress = max(0, min(99, int(100 * (t - start) / (total - start))))
        w = wait(
            elapsed=t,
            progress=progress or None,
            previous_elapsed=previous,
            changed_elapsed=changed,
            changed_progress=before,
            history=history,
        )
        trail.append((t, w))
        if progress != before:
            changed, before = t, progress
        previous = t
        t += w
    trail.append((t, 0))
    return trail


# ---- the formula ---------------------------------------------------------------------------


def test_formula_grows_with_duration_and_resolution() -> None:
    assert expected_generation_seconds(None, None) == pytest.approx(78.0)
    assert expected_generation_seconds(5, "480p") < expected_generation_seconds(5, "720p")
    assert expected_generation_seconds(5, "720p") < expected_generation_seconds(5, "1080p")
    assert expected_generation_seconds(15, "720p") > expected_generation_seconds(1, "720p")
    assert expected_generation_seconds(5, "4k") == expected_generation_seconds(5, "720p")


# ---- the published forecast ----------------------------------------------------------------


def test_the_plan_publishes_the_median_it_waited_by() -> None:
    for obs in (
        PollObservation(elapsed=0.0, duration=10, resolution="720p"),
        PollObservation(elapsed=40.0, progress=50, previous_elapsed=20.0, changed_elapsed=20.0,
                        changed_progress=10, duration=10, resolution="720p"),
        PollObservation(elapsed=90.0, history=HISTORY, consecutive_errors=2),
    ):  # fmt: skip
        planned = plan(obs)
        assert planned.wait_seconds == plan_wait(obs)  # the wait is the policy's, unchanged
        assert planned.done_seconds == pytest.approx(forecast(obs).median(after=obs.elapsed))
        assert planned.done_seconds > obs.elapsed
    first = first_plan(10, "720p")
    assert first.wait_seconds == first_wait_seconds(10, "720p")
    assert first.done_seconds == pytest.approx(expected_generation_seconds(10, "720p"), rel=0.05)


def test_lag_risk_grows_with_the_wait() -> None:
    predicted = forecast(PollObservation(elapsed=80, history=HISTORY))
    risks = [lag_risk(predicted, 80, w) for w in range(1, 60)]
    assert risks == sorted(risks)
    assert risks[0] >= 0 and risks[-1] <= 59


# ---- the waits -------------------------------------------------------------------------------


def test_sparse_early_dense_near_the_end() -> None:
    trail = linear_job_waits(100.0)
    waits = [w for _, w in trail[:-1]]
    assert waits[0] >= 10  # far from the end: long waits
    assert waits[-1] <= 3  # the last poll before the end was a short wait away
    assert trail[-1][0] - 100.0 <= 2.0  # detected within 2 s
    assert len(waits) + 1 <= 8  # no more polls than a 15-second poller needs (7)


def test_without_history_the_first_wait_follows_the_formula() -> None:
    short = first_wait_seconds(1, "480p")
    long = first_wait_seconds(15, "1080p")
    assert MIN_WAIT_SECONDS <= short < long <= MAX_WAIT_SECONDS
    assert short < expected_generation_seconds(1, "480p")  # the first poll comes before the predicted end


def test_history_without_progress_polls_densely_only_around_the_usual_time() -> None:
    early = wait(elapsed=10, history=HISTORY)
    around = wait(elapsed=100, history=HISTORY, previous_elapsed=97)
    late = wait(elapsed=400, history=HISTORY, previous_elapsed=380)
    assert early >= 30
    assert around <= 5
    assert late > around  # far past the usual time: the slow tail, polls thin out again


def test_a_queued_job_is_not_expected_before_it_starts() -> None:
    queued = wait(elapsed=90, queued=True, history=HISTORY, previous_elapsed=60)
    running = wait(elapsed=90, history=HISTORY, previous_elapsed=60)
    assert queued > running
    assert queued >= 30


def test_first_progress_after_a_queue_starts_the_clock() -> None:
    # Queued until at least 60 s, rendering at 5% at 65 s: far from done, whatever the history says.
    started = wait(
        elapsed=65,
        progress=5,
        was_queued=True,
        previous_elapsed=60,
        changed_elapsed=60,
        changed_progress=0,
        history=HISTORY,
    )
    assert started >= 20


def test_a_stall_backs_off() -> None:
    # Progress stopped at 60% 40 s ago: it may resume at any moment (then ~13 s remain at the
    # old rate), so neither dense nor sparse polling.
    stalled = wait(elapsed=60, progress=60, previous_elapsed=55, changed_elapsed=20, changed_progress=60)
    assert 5 <= stalled <= 20
    # Stuck at 99%: not one poll per second for ever; the longer the stall, the longer the wait.
    short_stall = wait(
        elapsed=110, progress=99, previous_elapsed=100, changed_elapsed=98, changed_progress=99
    )
    long_stall = wait(elapsed=300, progress=99, previous_elapsed=260, changed_elapsed=98, changed_progress=99)
    assert long_stall > short_stall


@pytest.mark.parametrize("retry_after", [2.0, 7.0, 12.4, 29.0])
def test_retry_after_is_a_floor(retry_after: float) -> None:
    assert wait(elapsed=95, progress=95, retry_after=retry_after, consecutive_errors=1) >= retry_after


def test_retry_after_is_capped() -> None:
    assert wait(elapsed=30, retry_after=86_400.0, consecutive_errors=1) == MAX_RETRY_AFTER_SECONDS
    assert wait(elapsed=30, retry_after=float("inf"), consecutive_errors=1) == MAX_RETRY_AFTER_SECONDS


def test_errors_without_retry_after_back_off_exponentially() -> None:
    waits = [
        wait(elapsed=100, history=HISTORY, previous_elapsed=99, consecutive_errors=n) for n in range(1, 10)
    ]
    assert waits[:5] == [2, 4, 8, 16, 32]
    assert waits[-1] == MAX_ERROR_BACKOFF_SECONDS


def test_after_an_error_the_wait_keeps_to_the_previous_density() -> None:
    # Nothing was learned: no longer than the last interval, though the plan alone would wait more.
    planned = wait(elapsed=30, history=HISTORY, previous_elapsed=25)
    after_error = wait(
        elapsed=30, history=HISTORY, previous_elapsed=25, retry_after=1.0, consecutive_errors=1
    )
    assert after_error <= 5 < planned


def test_never_past_the_deadline() -> None:
    assert wait(elapsed=10, history=HISTORY, seconds_to_deadline=4.2) <= 6
    assert wait(elapsed=10, history=HISTORY, seconds_to_deadline=-3) == MIN_WAIT_SECONDS


def test_keyword_form_is_the_same_policy() -> None:
    observation = PollObservation(elapsed=40, progress=30, history=HISTORY)
    assert next_wait_seconds(elapsed=40, progress=30, history=HISTORY) == plan_wait(observation)


# ---- determinism and bounds (a grid: hypothesis is not a dependency) ---------------------------------


GRID = list(
    itertools.product(
        (0, 0.001, 1, 29.5, 100, 1000, 10**7, float("nan"), -5),  # elapsed
        (None, 0, 1, 33, 99, 100),  # progress
        (None, 0.5, 50),  # previous / changed elapsed
        (None, 0, 1, 33),  # changed progress
        (False, True),  # queued
        (None, HISTORY),
        (None, 0, 3, float("nan")),  # retry_after
    )
)


def test_every_wait_is_a_whole_number_of_seconds_within_bounds() -> None:
    for elapsed, progress, earlier, before, queued, history, retry_after in GRID:
        seen = observation(
            elapsed=elapsed,
            progress=progress,
            queued=queued,
            previous_elapsed=earlier,
            was_queued=queued,
            changed_elapsed=earlier,
            changed_progress=before,
            history=history,
            retry_after=retry_after,
            consecutive_errors=0 if retry_after is None else 1,
        )
        result = plan_wait(seen)
        assert type(result) is int, seen
        upper = MAX_RETRY_AFTER_SECONDS if retry_after is not None else MAX_WAIT_SECONDS
        assert MIN_WAIT_SECONDS <= result <= upper, seen
        assert plan_wait(seen) == result  # deterministic


@pytest.mark.parametrize(("duration", "resolution"), [(None, None), (1, "480p"), (15, "1080p"), (8, "4k")])
def test_first_wait_is_always_in_bounds(duration: int | None, resolution: str | None) -> None:
    result = first_wait_seconds(duration, resolution)
    assert type(result) is int and MIN_WAIT_SECONDS <= result <= MAX_WAIT_SECONDS
