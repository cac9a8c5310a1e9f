"""The forecast of a job's completion time: pure and deterministic.

`forecast` models the job's total time T (provider seconds from submit to "done") as a
mixture of lognormal distributions, from what the poll step knows (`PollObservation`):

* a prior per *kind* of job (provider, model, resolution, duration bucket:
  `videohook.completion_times`): the median and spread of the recent completion times of
  that kind (`HistoryStats`, kept in DynamoDB by `videohook.job_history`), or, without
  enough history, a formula of the requested duration and resolution with a wide spread;
* a heavy tail: some jobs take far longer than their kind usually does (a busy
  provider, a stalled render). The prior gives them a second, slower and wider,
  lognormal component, so a late job is polled less and less often instead of every
  second forever;
* the reported progress and its rate since the previous poll: a measurement of T,
  combined with the prior by Bayes' rule (one Gaussian update per component in log
  space, the components reweighted by how well they explain it). A job whose progress
  says it is slow moves to the tail component; progress that stopped moving (a stall)
  is ignored until it moves again.

`videohook.wait_policy` chooses the next poll from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from videohook.completion_times import MIN_TAIL_WEIGHT, HistoryStats, expected_generation_seconds

# The prior without history: a formula, deliberately wide.
FORMULA_LOG_SIGMA = 0.5
# The slow component: its median is TAIL_SHIFT times the main one's.
TAIL_SHIFT = 2.0
TAIL_LOG_SIGMA = 0.8
DEFAULT_TAIL_WEIGHT = 0.08
# Progress: the relative error of a remaining-time estimate from an average rate, and
# how many "expected seconds per percent" without a change make a stall.
PROGRESS_RELATIVE_ERROR = 0.25
STALL_INTERVALS = 4.0
# The spread (log) of how much longer a stall lasts, relative to how long it has lasted.
STALL_LOG_SIGMA = 1.0

_SQRT2 = math.sqrt(2.0)


def _upper_tail(z: float) -> float:
    """P(Z > z) for a standard normal, accurate far into both tails."""
    return 0.5 * math.erfc(z / _SQRT2)


@dataclass(frozen=True)
class Component:
    weight: float
    mu: float  # log seconds
    sigma: float


@dataclass(frozen=True)
class Forecast:
    """A mixture of lognormals over T, the total seconds from submit to "done"."""

    components: tuple[Component, ...]
    source: str  # formula | history, plus "+progress" when progress was used

    def survival(self, x: float) -> float:
        if x <= 0:
            return 1.0
        log_x = math.log(x)
        return sum(c.weight * _upper_tail((log_x - c.mu) / c.sigma) for c in self.components)

    def integrated_survival(self, a: float, b: float) -> float:
        """Integral of S over [a, b], in closed form.

        For one lognormal, H(x) = integral_0^x S = x Q(z) + M (1 - Q(z - sigma)) with
        z = (ln x - mu) / sigma, M = exp(mu + sigma^2 / 2) and Q the normal upper tail.
        """
        return max(0.0, self._h(b) - self._h(a))

    def _h(self, x: float) -> float:
        """H(x) minus the constant sum of w M (it cancels in every difference)."""
        total = 0.0
        log_x = math.log(x) if x > 0 else None
        for c in self.components:
            mean = math.exp(c.mu + 0.5 * c.sigma * c.sigma)
            if log_x is None:
                total -= c.weight * mean
                continue
            z = (log_x - c.mu) / c.sigma
            total += c.weight * (x * _upper_tail(z) - mean * _upper_tail(z - c.sigma))
        return total

    def median(self, after: float = 0.0) -> float:
        """The forecast's median of T given T > `after` (bisection on the survival function):
        with `after` = the time of a poll that found the job not done, always later than it."""
        alive = self.survival(after)
        if alive <= 1e-12:
            return max(after, 0.0)  # the forecast rules the job out: due now
        low, high = max(after, 1e-3), max(after, 1e-3) * 2.0 + 1e7
        for _ in range(80):
            mid = math.sqrt(low * high)
            if self.survival(mid) > 0.5 * alive:
                low = mid
            else:
                high = mid
        return math.sqrt(low * high)


def _prior(
    duration: int | None, resolution: str | None, history: HistoryStats | None
) -> tuple[list[Component], str]:
    if history is not None:
        mu, sigma, tail, source = (
            math.log(history.median_seconds),
            history.log_sigma,
            history.tail_weight,
            "history",
        )
    else:
        mu = math.log(expected_generation_seconds(duration, resolution))
        sigma, tail, source = FORMULA_LOG_SIGMA, DEFAULT_TAIL_WEIGHT, "formula"
    return [
        Component(1.0 - tail, mu, sigma),
        Component(tail, mu + math.log(TAIL_SHIFT), max(TAIL_LOG_SIGMA, sigma)),
    ], source


def _shifted(components: list[Component], start: float) -> list[Component]:
    """T = start + T0: the prior of a job that started rendering at `start`, not at submit
    (a lognormal again, with the same median shift and the same spread in seconds)."""
    shifted = []
    for c in components:
        median = math.exp(c.mu)
        total = start + median
        shifted.append(Component(c.weight, math.log(total), max(1e-3, c.sigma * median / total)))
    return shifted


@dataclass(frozen=True)
class PollObservation:
    """What the poll step knows when it picks the next wait. Times are provider seconds
    since submit (the local stack's time scale already divided out)."""

    elapsed: float
    progress: int | None = None  # reported (the highest so far), None if never
    queued: bool = False  # the provider says the job has not started rendering
    previous_elapsed: float | None = None  # the previous poll; None at the first
    was_queued: bool = False  # the status at the previous poll
    changed_elapsed: float | None = None  # when status or progress last changed, before this poll
    changed_progress: int | None = None  # the progress since then
    duration: int | None = None
    resolution: str | None = None
    history: HistoryStats | None = None
    retry_after: float | None = None  # a 429's Retry-After
    consecutive_errors: int = 0  # transient poll errors in a row, this one included
    seconds_to_deadline: float | None = None


@dataclass(frozen=True)
class BeforePoll:
    """What the job record says before a poll, in provider seconds since submit."""

    previous_elapsed: float | None  # the previous poll; None before the first
    queued: bool  # the record's status is queued
    changed_elapsed: float  # when its status or progress last changed
    progress: int  # its progress (the highest reported)

    def observe(
        self,
        elapsed: float,
        *,
        progress: int,
        queued: bool,
        duration: int | None,
        resolution: str | None,
        history: HistoryStats | None,
        retry_after: float | None,
        consecutive_errors: int,
        seconds_to_deadline: float | None = None,
    ) -> PollObservation:
        """The observation of the poll at `elapsed`: the record's progress after it, whether it
        saw the job queued, the job's kind, the poll's error (if any) and the time left."""
        return PollObservation(
            elapsed=elapsed,
            progress=progress or None,
            queued=queued,
            previous_elapsed=self.previous_elapsed,
            was_queued=self.queued and self.previous_elapsed is not None,
            changed_elapsed=self.changed_elapsed,
            changed_progress=self.progress,
            duration=duration,
            resolution=resolution,
            history=history,
            retry_after=retry_after,
            consecutive_errors=consecutive_errors,
            seconds_to_deadline=seconds_to_deadline,
        )


def _render_start(obs: PollObservation) -> float:
    """A lower bound, or a midpoint, of when rendering started: 0 if nothing is known."""
    if obs.queued:
        return obs.elapsed
    if obs.was_queued and obs.previous_elapsed is not None:
        return (obs.previous_elapsed + obs.elapsed) / 2.0
    return 0.0


def _progress_measurement(obs: PollObservation, start: float) -> tuple[float, float] | None:
    """(log T, its sigma) from the reported progress, or None when progress says nothing.

    Remaining-time estimates, of which the shortest is taken (a remaining time guessed
    too long costs detection lag; too short, one more poll):

    * the average rate since rendering started (since submit if unknown: then it is
      slowed by the queue and errs long), uncertain early on (warm-up, curved progress);
    * the rate since the progress last changed, from whole percents;
    * the first progress after zero: rendering started between the previous poll and now.

    Progress that has not moved for STALL_INTERVALS times its usual time per percent is a
    stall of unknown length: the job is then expected to take about as long again as the
    stall has lasted so far, with a wide spread.
    """
    progress, elapsed = obs.progress, obs.elapsed
    if obs.queued or progress is None or not 1 <= progress <= 99 or elapsed <= start:
        return None
    remaining_percent = 100 - progress
    seconds_per_percent = (elapsed - start) / progress
    average_error = PROGRESS_RELATIVE_ERROR * (1.0 + 2.0 * remaining_percent / 100.0)
    estimates: list[tuple[float, float]] = [(remaining_percent * seconds_per_percent, average_error)]
    since, before = obs.changed_elapsed, obs.changed_progress
    if since is not None and before is not None and elapsed > since:
        moved = progress - before
        if moved <= 0:
            stalled_for = elapsed - since
            if stalled_for > STALL_INTERVALS * seconds_per_percent + 1.0:
                rest = remaining_percent * max(since - start, 0.0) / progress
                total = elapsed + rest + stalled_for
                sigma = (STALL_LOG_SIGMA * stalled_for + average_error * rest + 0.5) / total
                return math.log(total), sigma
        elif before > 0:
            estimates.append(
                (remaining_percent * (elapsed - since) / moved, PROGRESS_RELATIVE_ERROR * 0.6 + 1.0 / moved)
            )
        elif obs.previous_elapsed is not None and start == 0.0 and obs.previous_elapsed < elapsed:
            began = (obs.previous_elapsed + elapsed) / 2.0
            estimates.append((remaining_percent * (elapsed - began) / progress, 0.5 + 1.0 / progress))
    remaining, error = min(estimates)
    longest = max(r for r, _ in estimates)
    if remaining > 0 and longest > remaining:
        error = max(error, math.log(longest / remaining) / 2.0)
    total = elapsed + remaining
    # A relative error of the remaining time is this much in log T; +0.5 s of poll timing.
    return math.log(total), max(1e-3, (error * remaining + 0.5) / total)


def _update(prior: list[Component], measurement: tuple[float, float]) -> list[Component]:
    """Bayes' rule for a Gaussian measurement of log T on a mixture of Gaussians in log T."""
    value, noise = measurement
    posterior: list[tuple[float, float, float]] = []
    for c in prior:
        spread = math.sqrt(c.sigma**2 + noise**2)
        z = (value - c.mu) / spread
        likelihood = math.exp(-0.5 * z * z) / spread
        precision = 1.0 / c.sigma**2 + 1.0 / noise**2
        mu = (c.mu / c.sigma**2 + value / noise**2) / precision
        posterior.append((c.weight * likelihood, mu, math.sqrt(1.0 / precision)))
    total = sum(w for w, _, _ in posterior)
    if not total > 0 or not math.isfinite(total):
        # Both components are far off: believe the measurement, keep a slow tail.
        slow = prior[-1]
        return [
            Component(1.0 - MIN_TAIL_WEIGHT, value, noise),
            Component(MIN_TAIL_WEIGHT, max(slow.mu, value), slow.sigma),
        ]
    return [Component(w / total, mu, sigma) for w, mu, sigma in posterior if w > 0]


def forecast(obs: PollObservation) -> Forecast:
    """The distribution of the job's total time T, from everything in `obs`."""
    components, source = _prior(obs.duration, obs.resolution, obs.history)
    start = _render_start(obs)
    if start > 0:
        components = _shifted(components, start)
        source += "+start"
    measurement = _progress_measurement(obs, start)
    if measurement is not None:
        components = _update(components, measurement)
        source += "+progress"
    return Forecast(tuple(components), source)
