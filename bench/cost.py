"""Step Functions transitions, Lambda invocations, GB-seconds and list price of one job.

A typical job: 107 s from submit to done (AI/ML API's 720p example, docs/providers.md §3),
the xAI shape (progress reported), the kind's history warm (32 earlier jobs of the same
kind, around 107 s). Its polls and detection lag come from the policies themselves;
what a job costs besides polling (the states after the loop, their Lambda
invocations, every handler's duration and memory) is measured on the local stack in
the same run (bench.stack_bench), or falls back to the current definition's shape.

Every poll is one pass through WaitForProvider -> PollProvider -> IsJobDone: 3 state
transitions and one Lambda invocation of the poll function.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from videohook import completion_forecast, completion_times, wait_policy

# US East (N. Virginia) list prices.
SFN_STANDARD_PER_TRANSITION = 0.025 / 1000
LAMBDA_PER_REQUEST = 0.20 / 1_000_000
LAMBDA_ARM64_PER_GB_SECOND = 0.0000133334
PRICES = (
    "Step Functions Standard $0.025 per 1,000 state transitions; "
    "Lambda arm64 $0.0000133334 per GB-second and $0.20 per 1M requests (us-east-1 list prices)"
)

TYPICAL_SECONDS = 107.0
TYPICAL_KIND = {"provider": "xai", "model": "grok-imagine-video", "resolution": "720p", "duration": 10}
TRANSITIONS_PER_POLL = 3
POLL_HANDLER = "handlers.poll_provider.handler"


@dataclass(frozen=True)
class Shape:
    """What one job costs outside the poll loop, and each handler's size and duration."""

    tail_transitions: float = 4.0  # FinalizeVideo, PublishEvent, DeliverWebhook, Done
    tail_invocations: dict[str, float] | None = None
    memory_mb: dict[str, int] | None = None
    seconds: dict[str, float] | None = None
    measured: bool = False

    def memory(self, handler: str) -> int:
        return (self.memory_mb or {}).get(handler, 256)

    def duration(self, handler: str) -> float:
        return (self.seconds or {}).get(handler, 0.1)


@dataclass(frozen=True)
class JobCost:
    polls: float
    lag: float
    transitions: float
    invocations: float
    gb_seconds: float

    @property
    def dollars(self) -> float:
        return (
            self.transitions * SFN_STANDARD_PER_TRANSITION
            + self.invocations * LAMBDA_PER_REQUEST
            + self.gb_seconds * LAMBDA_ARM64_PER_GB_SECOND
        )


def _history() -> completion_times.HistoryStats | None:
    rng = random.Random(107)
    return completion_times.history_stats(
        [TYPICAL_SECONDS * math.exp(rng.gauss(0.0, 0.1)) for _ in range(32)]
    )


def typical_polls(fixed_seconds: int | None) -> tuple[float, float]:
    """Mean (polls, detection lag) of the typical job, over ten sub-second phases of its end
    (107.0, 107.1, ... 107.9 s: waits are whole seconds, so one exact total would be a fluke)."""
    runs = [_polls(fixed_seconds, TYPICAL_SECONDS + k / 10) for k in range(10)]
    return sum(p for p, _ in runs) / len(runs), sum(lag for _, lag in runs) / len(runs)


def _polls(fixed_seconds: int | None, total: float) -> tuple[int, float]:
    """(polls, detection lag) of one such job: 2 s queued, then progress rising linearly."""
    queue = 2.0
    history = _history()
    duration, resolution = TYPICAL_KIND["duration"], TYPICAL_KIND["resolution"]
    if fixed_seconds is not None:
        polls = math.ceil(total / fixed_seconds)
        return polls, polls * fixed_seconds - total
    t = float(wait_policy.first_wait_seconds(duration, resolution))
    previous: float | None = None
    changed, before, was_queued, polls = 0.0, 0, False, 0
    while True:
        polls += 1
        if t >= total:
            return polls, t - total
        queued = t < queue
        progress = 0 if queued else min(99, int(100 * (t - queue) / (total - queue)))
        wait = wait_policy.plan_wait(
            completion_forecast.PollObservation(
                elapsed=t,
                progress=progress or None,
                queued=queued,
                previous_elapsed=previous,
                was_queued=was_queued,
                changed_elapsed=changed,
                changed_progress=before,
                duration=duration,
                resolution=resolution,
                history=history,
            )
        )
        if progress != before or queued != was_queued:
            changed = t
        before, was_queued, previous = progress, queued, t
        t += wait


def job_cost(polls: float, lag: float, shape: Shape) -> JobCost:
    tail = shape.tail_invocations or {
        "handlers.finalize_video.handler": 1.0,
        "handlers.publish_event.handler": 1.0,
        "handlers.deliver_webhook.handler": 1.0,
    }
    gb_seconds = polls * shape.memory(POLL_HANDLER) / 1024 * shape.duration(POLL_HANDLER)
    gb_seconds += sum(
        count * shape.memory(name) / 1024 * shape.duration(name) for name, count in tail.items()
    )
    return JobCost(
        polls=polls,
        lag=lag,
        transitions=TRANSITIONS_PER_POLL * polls + shape.tail_transitions,
        invocations=polls + sum(tail.values()),
        gb_seconds=gb_seconds,
    )


def shape_from_stack(figures: dict) -> Shape:
    """The measured shape from a bench.stack_bench run."""
    per_job = dict(figures["invocations_per_job"])
    polls = figures["polls_per_job"]
    per_job.pop(POLL_HANDLER, None)
    return Shape(
        tail_transitions=max(0.0, figures["transitions_per_job"] - TRANSITIONS_PER_POLL * polls),
        tail_invocations=per_job,
        memory_mb=figures["memory_mb"],
        seconds=figures["median_duration"],
        measured=True,
    )
