"""How long the workflow waits before the next poll: pure and deterministic.

The waits follow the forecast of the job's total time T (provider seconds from submit to
"done": `videohook.completion_forecast`), putting the next poll as late as they can while
the detection lag it risks stays small.

Given that the job was not done at `elapsed` = t, the expected detection lag of a poll at
t + w is

    L(w) = E[t + w - T | t < T <= t + w] P(T <= t + w | T > t) = w - (1/S(t)) * integral_t^{t+w} S(s) ds

(S is the forecast's survival function). The next wait is the largest whole number
of seconds w (Step Functions' Wait takes whole seconds) with L(w) <= LAG_BUDGET_SECONDS:
far from the predicted end L stays ~0 and waits are long; near it the forecast's
density is high and waits shrink to MIN_WAIT; past it they grow again with the tail.
A constant lag budget per poll is the discrete form of the optimal schedule for
"polls + lambda * lag" (interval proportional to 1/sqrt(hazard)).

429s and other transient errors: at least Retry-After, else exponential backoff.

The forecast is also published: `plan` returns the median of T given the job is not done
at `elapsed`, which becomes the job's `estimated_done_at` (at submit from `first_plan`, then
at every poll), so callers see the end coming without any poll more.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from videohook.completion_forecast import Forecast, PollObservation, forecast
from videohook.completion_times import HistoryStats

MIN_WAIT_SECONDS = 1
MAX_WAIT_SECONDS = 120
# Expected detection lag (s) one poll may risk: the one knob between polls and lag.
LAG_BUDGET_SECONDS = 0.3
MAX_RETRY_AFTER_SECONDS = 300
MAX_ERROR_BACKOFF_SECONDS = 60


def lag_risk(forecast_: Forecast, elapsed: float, wait: float) -> float:
    """Expected detection lag of polling at elapsed + wait, given not done at `elapsed`."""
    alive = forecast_.survival(elapsed)
    if alive <= 1e-12:
        return wait  # the forecast rules the job out: no information, assume the worst
    return max(0.0, wait - forecast_.integrated_survival(elapsed, elapsed + wait) / alive)


def _clamp(seconds: float, upper: int = MAX_WAIT_SECONDS) -> int:
    if math.isnan(seconds):
        return upper
    return int(max(MIN_WAIT_SECONDS, min(upper, seconds)))


def _planned_wait(forecast_: Forecast, elapsed: float, upper: int) -> int:
    """The largest whole wait in [MIN_WAIT, upper] whose lag risk is within the budget
    (`lag_risk` grows with the wait: a bisection)."""
    alive = forecast_.survival(elapsed)
    if alive <= 1e-12:
        return MIN_WAIT_SECONDS
    base = forecast_.integrated_survival(0.0, elapsed)

    def risk(wait: int) -> float:
        return wait - (forecast_.integrated_survival(0.0, elapsed + wait) - base) / alive

    if risk(MIN_WAIT_SECONDS) > LAG_BUDGET_SECONDS:
        return MIN_WAIT_SECONDS
    if risk(upper) <= LAG_BUDGET_SECONDS:
        return upper
    low, high = MIN_WAIT_SECONDS, upper  # risk(low) <= budget < risk(high)
    while high - low > 1:
        mid = (low + high) // 2
        if risk(mid) <= LAG_BUDGET_SECONDS:
            low = mid
        else:
            high = mid
    return low


@dataclass(frozen=True)
class Plan:
    """The poll step's decision: the next wait, and the forecast it published."""

    wait_seconds: int  # provider seconds until the next poll
    done_seconds: float  # the forecast's median of T given not done now: provider seconds from submit


def plan_wait(obs: PollObservation) -> int:
    """Whole seconds of provider time until the next poll, within [MIN_WAIT, MAX_WAIT] (`plan`)."""
    return plan(obs).wait_seconds


def plan(obs: PollObservation) -> Plan:
    """The next wait, and when the job is expected to be done (the job's `estimated_done_at`).

    The wait: a 429's Retry-After is honoured up to MAX_RETRY_AFTER_SECONDS; other transient
    errors (consecutive_errors > 0 without a Retry-After) back off 2, 4, 8 ... up to
    MAX_ERROR_BACKOFF_SECONDS. Waits never pass the deadline by more than a second. The
    expected end is only published, never polled for: it changes no wait.
    """
    elapsed = obs.elapsed if math.isfinite(obs.elapsed) and obs.elapsed > 0 else 0.0
    if elapsed != obs.elapsed:
        obs = replace(obs, elapsed=elapsed)
    upper = MAX_WAIT_SECONDS
    if obs.seconds_to_deadline is not None and not math.isnan(obs.seconds_to_deadline):
        upper = _clamp(math.ceil(min(max(0.0, obs.seconds_to_deadline), MAX_WAIT_SECONDS)) + 1)
    forecast_ = forecast(obs)
    done = forecast_.median(after=elapsed)
    wait = _planned_wait(forecast_, elapsed, upper)
    if obs.consecutive_errors > 0 or obs.retry_after is not None:
        # This poll learned nothing: keep to the density of the previous plan (no longer
        # wait than the last one), but not sooner than the provider allows.
        if obs.previous_elapsed is not None and elapsed > obs.previous_elapsed:
            wait = min(wait, _clamp(math.ceil(elapsed - obs.previous_elapsed), upper))
        if obs.retry_after is not None and not math.isnan(obs.retry_after):
            floor = min(max(0.0, obs.retry_after), MAX_RETRY_AFTER_SECONDS)
            wait = max(wait, _clamp(math.ceil(floor), MAX_RETRY_AFTER_SECONDS))
        else:
            backoff = 2.0 ** min(max(obs.consecutive_errors, 1), 16)
            wait = max(wait, _clamp(backoff, MAX_ERROR_BACKOFF_SECONDS))
    return Plan(wait_seconds=wait, done_seconds=done)


def next_wait_seconds(**fields: object) -> int:
    """`plan_wait` with the fields of PollObservation as keywords."""
    return plan_wait(PollObservation(**fields))  # type: ignore[arg-type]


def first_plan(duration: int | None, resolution: str | None, history: HistoryStats | None = None) -> Plan:
    """The wait before the first poll and the expected end, decided at submit (nothing reported yet)."""
    return plan(PollObservation(elapsed=0.0, duration=duration, resolution=resolution, history=history))


def first_wait_seconds(
    duration: int | None, resolution: str | None, history: HistoryStats | None = None
) -> int:
    """The wait before the first poll, decided at submit (nothing reported yet)."""
    return first_plan(duration, resolution, history).wait_seconds
