"""Kinds of jobs and their completion times: what the poll policy learns from earlier jobs.

Jobs of one kind (`job_kind`: provider, model, resolution, duration bucket) take about as
long as each other. The poll that sees a job done records its completion time
(`observed_completion_seconds`); `videohook.job_history` keeps the recent ones per kind in
DynamoDB, and `history_stats` summarizes them for `videohook.completion_forecast` (which
starts from `expected_generation_seconds` for a kind without history).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_DURATION_SECONDS = 8
RESOLUTION_FACTOR = {"480p": 0.8, "720p": 1.0, "1080p": 1.6}
# With history: at least this spread (log space), however tight the samples.
MIN_HISTORY_LOG_SIGMA = 0.08
MIN_HISTORY_SAMPLES = 3
# The share of very slow jobs of a kind (the forecast's slow component) stays within these.
MIN_TAIL_WEIGHT = 0.03
MAX_TAIL_WEIGHT = 0.3


def duration_bucket(duration: int | None) -> str:
    """Durations 1-15 s in five buckets of three; None (the provider's default) on its own."""
    if duration is None:
        return "default"
    low = ((max(1, min(15, duration)) - 1) // 3) * 3 + 1
    return f"{low}-{low + 2}"


def job_kind(provider: str, model: str | None, resolution: str | None, duration: int | None) -> str:
    """Jobs of one kind take about as long as each other: the key of the completion-time history."""
    return f"{provider}|{model or 'default'}|{resolution or 'default'}|{duration_bucket(duration)}"


@dataclass(frozen=True)
class HistoryStats:
    """Recent completion times of one kind, summarized (log space: they are skewed)."""

    count: int
    median_seconds: float
    log_sigma: float
    tail_weight: float


def history_stats(samples: Sequence[float]) -> HistoryStats | None:
    """Median, robust spread (MAD) and the share of very slow jobs; None if too few samples."""
    values = [s for s in samples if isinstance(s, int | float) and math.isfinite(s) and s > 0]
    if len(values) < MIN_HISTORY_SAMPLES:
        return None
    logs = [math.log(v) for v in values]
    center = statistics.median(logs)
    mad = statistics.median(abs(x - center) for x in logs)
    # 1.4826 * MAD estimates a normal sigma; a few samples understate the spread.
    sigma = max(MIN_HISTORY_LOG_SIGMA, 1.4826 * mad) * (1.0 + 1.0 / math.sqrt(len(values)))
    slow = sum(1 for x in logs if x > center + max(3.0 * sigma, math.log(1.5)))
    tail = min(MAX_TAIL_WEIGHT, max(MIN_TAIL_WEIGHT, (slow + 1) / (len(values) + 2)))
    return HistoryStats(count=len(values), median_seconds=math.exp(center), log_sigma=sigma, tail_weight=tail)


def expected_generation_seconds(duration: int | None, resolution: str | None) -> float:
    """Without history, the formula: generation time grows with clip length and resolution."""
    seconds = 30.0 + 6.0 * (duration or DEFAULT_DURATION_SECONDS)
    return seconds * RESOLUTION_FACTOR.get(resolution or "720p", 1.0)


def observed_completion_seconds(previous_elapsed: float | None, elapsed: float) -> float:
    """The completion time a poll that saw "done" records: the middle of the last interval."""
    if previous_elapsed is None or not 0 <= previous_elapsed < elapsed:
        return elapsed
    return (previous_elapsed + elapsed) / 2.0
