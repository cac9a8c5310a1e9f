"""Polling policies on simulated jobs: a pure, seeded simulation (no I/O, no clock).

Each simulated job has a kind (provider, model, resolution, duration) and a true
completion time drawn per kind: a queue delay (sometimes long: a busy provider), a
generation time that grows with duration, resolution and model (lognormal noise),
a heavy tail (5% of jobs are 1.8x to 6x slower, Pareto), and stalls (10% of jobs:
progress freezes for 10-80% of the generation time, a third of them at 95-99.5%).
Providers with the xAI shape (xai, cometapi) report integer progress along a
slightly curved line; AI/ML API reports none. 1% of polls get a 429 (with a
Retry-After of 1-10 s two times in three). None of these numbers is known to the
policy: it sees what the poll step sees (elapsed time, status, progress, the previous
poll) plus the completion times it recorded for earlier jobs of the same kind.

Every policy runs on the same jobs and the same 429 draws (seeded per job and poll).
"""

from __future__ import annotations

import math
import random
import statistics
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from videohook import completion_forecast, completion_times, wait_policy

SEED = 20240607
HISTORY_SIZE = 32  # as videohook.job_history keeps
DEADLINE_SECONDS = 3600.0

# (name, share of traffic, reports progress, fixed overhead s)
PROVIDERS = (("xai", 0.45, True, 0.0), ("cometapi", 0.35, True, 4.0), ("aimlapi", 0.20, False, 6.0))
MODELS = (("grok-imagine-video", 0.7, 1.0), ("grok-imagine-video-1.5", 0.3, 1.3))
RESOLUTIONS = (("480p", 0.3, 0.75), ("720p", 0.5, 1.0), ("1080p", 0.2, 1.7))
DURATIONS = tuple(range(1, 16))
DURATION_WEIGHTS = tuple({5: 8.0, 6: 4.0, 8: 8.0, 10: 10.0, 15: 4.0}.get(d, 1.5) for d in DURATIONS)


@dataclass(frozen=True)
class SimJob:
    index: int
    provider: str
    model: str
    resolution: str
    duration: int
    reports_progress: bool
    queue: float  # seconds queued
    generation: float  # seconds of rendering, stall excluded
    stall_at: float  # fraction of the rendering where progress froze (1 = never)
    stall: float  # seconds frozen
    curve: float  # progress = fraction ** curve

    @property
    def total(self) -> float:
        return self.queue + self.generation + self.stall

    @property
    def kind(self) -> str:
        return completion_times.job_kind(self.provider, self.model, self.resolution, self.duration)

    def progress(self, t: float) -> int | None:
        """What a poll at t reports (None: this provider reports no progress)."""
        if not self.reports_progress:
            return None
        rendered = t - self.queue
        if rendered <= 0:
            return 0
        frozen_from = self.stall_at * self.generation
        if rendered > frozen_from:
            rendered = frozen_from + max(0.0, rendered - frozen_from - self.stall)
        fraction = min(1.0, rendered / self.generation)
        return max(0, min(99, int(100 * fraction**self.curve)))


def _pick(rng: random.Random, options: tuple, weights: tuple[float, ...]) -> object:
    return rng.choices(options, weights=weights)[0]


def make_jobs(count: int, seed: int = SEED) -> list[SimJob]:
    rng = random.Random(seed)
    jobs = []
    for index in range(count):
        provider, _, reports, overhead = _pick(rng, PROVIDERS, tuple(p[1] for p in PROVIDERS))
        model, _, model_factor = _pick(rng, MODELS, tuple(m[1] for m in MODELS))
        resolution, _, res_factor = _pick(rng, RESOLUTIONS, tuple(r[1] for r in RESOLUTIONS))
        if resolution == "1080p" and model == "grok-imagine-video":
            resolution, res_factor = "720p", 1.0  # 1.0 has no 1080p
        duration = _pick(rng, DURATIONS, DURATION_WEIGHTS)
        base = (20.0 + 8.5 * duration) * res_factor * model_factor + overhead
        generation = base * rng.lognormvariate(0.0, 0.12)
        if rng.random() < 0.05:  # heavy tail
            generation *= min(6.0, 1.0 + 0.8 * rng.paretovariate(1.3))
        queue = rng.expovariate(1 / 25.0) if rng.random() < 0.1 else rng.expovariate(1 / 3.0)
        stall_at, stall = 1.0, 0.0
        if rng.random() < 0.10:
            stall_at = rng.uniform(0.95, 0.995) if rng.random() < 1 / 3 else rng.uniform(0.3, 0.95)
            stall = generation * rng.uniform(0.1, 0.8)
        jobs.append(
            SimJob(
                index=index,
                provider=provider,
                model=model,
                resolution=resolution,
                duration=duration,
                reports_progress=reports,
                queue=queue,
                generation=generation,
                stall_at=stall_at,
                stall=stall,
                curve=rng.lognormvariate(0.0, 0.15),
            )
        )
    return jobs


# A policy: (first wait, next wait from what the poll step knows).
Policy = tuple[Callable[[SimJob], int], Callable[[completion_forecast.PollObservation], int]]


def fixed_policy(seconds: int) -> Policy:
    def next_wait(view: completion_forecast.PollObservation) -> int:
        wait = seconds
        if view.retry_after is not None:
            wait = max(wait, math.ceil(view.retry_after))
        return wait

    return (lambda job: seconds), next_wait


def adaptive_policy() -> Policy:
    def first(job: SimJob) -> int:
        return wait_policy.first_wait_seconds(job.duration, job.resolution)

    return first, wait_policy.plan_wait


@dataclass
class Outcome:
    polls: list[int] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    no_progress_polls: list[int] = field(default_factory=list)
    no_progress_lags: list[float] = field(default_factory=list)


def _mix(value: int) -> int:
    """splitmix64's finalizer: a cheap, well-mixed hash of an integer."""
    value = (value + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return value ^ (value >> 31)


def throttle(job: SimJob, poll: int) -> tuple[bool, float | None]:
    """Whether poll number `poll` of `job` gets a 429 (1%), and its Retry-After (two in three
    carry one, 1-10 s): a hash of (job, poll), so the same for every policy."""
    draw = _mix(SEED * 1_000_003 + job.index * 65_537 + poll)
    if draw % 10_000 >= 100:
        return False, None
    rest = draw // 10_000
    return True, (float(1 + rest % 10) if (rest // 10) % 3 else None)


def run(
    policy: Policy,
    jobs: list[SimJob],
    trace: Callable[[SimJob, completion_forecast.PollObservation, int], None] | None = None,
) -> Outcome:
    """Every job under `policy`, in order; each job sees the history its predecessors left.

    The poll step's bookkeeping is mirrored exactly: the job record keeps the highest
    progress, the status and the time they last changed (updated_at); a throttled poll
    changes nothing but its error count.
    """
    first, next_wait = policy
    outcome = Outcome()
    samples: dict[str, deque[float]] = {}
    stats: dict[str, completion_times.HistoryStats | None] = {}
    for job in jobs:
        kind = job.kind
        history = stats.get(kind)
        total = job.total
        t = float(first(job))
        previous_t: float | None = None
        progress, queued = 0, True  # the record as submit leaves it
        changed_t, errors, polls = 0.0, 0, 0
        while True:
            polls += 1
            throttled, retry_after = throttle(job, polls)
            if not throttled and t >= total:
                lag = t - total
                break
            if t >= DEADLINE_SECONDS:
                lag = math.nan
                break
            record = completion_forecast.BeforePoll(previous_t, queued, changed_t, progress)
            if throttled:
                errors += 1
            else:
                errors = 0
                now_queued = job.reports_progress and t < job.queue
                reported = job.progress(t)
                new_progress = progress if reported is None else max(progress, reported)
                if new_progress != progress or now_queued != queued:
                    changed_t = t
                progress, queued = new_progress, now_queued
            view = record.observe(
                t,
                progress=progress,
                queued=queued and not throttled,
                duration=job.duration,
                resolution=job.resolution,
                history=history,
                retry_after=retry_after,
                consecutive_errors=errors,
            )
            wait = next_wait(view)
            if trace is not None:
                trace(job, view, wait)
            previous_t = t
            t += wait
        outcome.polls.append(polls)
        outcome.lags.append(lag)
        if not job.reports_progress:
            outcome.no_progress_polls.append(polls)
            outcome.no_progress_lags.append(lag)
        recorded = samples.setdefault(kind, deque(maxlen=HISTORY_SIZE))
        recorded.append(completion_times.observed_completion_seconds(previous_t, t))
        stats[kind] = completion_times.history_stats(recorded)
    return outcome


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(v for v in values if not math.isnan(v))
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * q
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    name: str
    mean_polls: float
    lag_p50: float
    lag_p95: float
    lag_mean: float
    no_progress_mean_polls: float
    no_progress_lag_p50: float
    no_progress_lag_p95: float


def summarize(name: str, outcome: Outcome) -> Summary:
    return Summary(
        name=name,
        mean_polls=statistics.fmean(outcome.polls),
        lag_p50=percentile(outcome.lags, 0.5),
        lag_p95=percentile(outcome.lags, 0.95),
        lag_mean=statistics.fmean(v for v in outcome.lags if not math.isnan(v)),
        no_progress_mean_polls=statistics.fmean(outcome.no_progress_polls or [math.nan]),
        no_progress_lag_p50=percentile(outcome.no_progress_lags, 0.5),
        no_progress_lag_p95=percentile(outcome.no_progress_lags, 0.95),
    )


def simulate(count: int = 10_000, seed: int = SEED) -> dict[str, Summary]:
    jobs = make_jobs(count, seed)
    policies = {"adaptive": adaptive_policy(), "fixed 1 s": fixed_policy(1), "fixed 15 s": fixed_policy(15)}
    return {name: summarize(name, run(policy, jobs)) for name, policy in policies.items()}


def job_stats(count: int = 10_000, seed: int = SEED) -> dict[str, float]:
    totals = [job.total for job in make_jobs(count, seed)]
    return {
        "p50": percentile(totals, 0.5),
        "p95": percentile(totals, 0.95),
        "p99": percentile(totals, 0.99),
        "max": max(totals),
    }
