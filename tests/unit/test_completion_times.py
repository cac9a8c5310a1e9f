"""videohook.completion_times: the kinds of jobs and their completion-time statistics."""

from __future__ import annotations

import pytest

from videohook.completion_times import (
    MIN_HISTORY_LOG_SIGMA,
    duration_bucket,
    history_stats,
    job_kind,
    observed_completion_seconds,
)


@pytest.mark.parametrize(
    ("duration", "bucket"),
    [(None, "default"), (1, "1-3"), (3, "1-3"), (4, "4-6"), (10, "10-12"), (15, "13-15")],
)
def test_duration_buckets(duration: int | None, bucket: str) -> None:
    assert duration_bucket(duration) == bucket


def test_job_kind_names_every_part() -> None:
    assert job_kind("xai", "grok-imagine-video", "720p", 8) == "xai|grok-imagine-video|720p|7-9"
    assert job_kind("sandbox", None, None, None) == "sandbox|default|default|default"


def test_history_needs_three_good_samples() -> None:
    assert history_stats([]) is None
    assert history_stats([100.0, 101.0]) is None
    assert history_stats([100.0, float("nan"), -3, 0, float("inf"), 101.0]) is None
    stats = history_stats([90.0, 100.0, 110.0])
    assert stats is not None and stats.count == 3
    assert stats.median_seconds == pytest.approx(100.0)


def test_history_spread_is_robust_and_floored() -> None:
    identical = history_stats([100.0] * 32)
    assert identical is not None and identical.log_sigma >= MIN_HISTORY_LOG_SIGMA
    with_outlier = history_stats([100.0] * 31 + [10_000.0])
    assert with_outlier is not None
    assert with_outlier.median_seconds == pytest.approx(100.0)
    assert with_outlier.log_sigma < 0.2  # one outlier does not widen the main component
    assert with_outlier.tail_weight > identical.tail_weight  # it feeds the slow tail instead


def test_observed_completion_is_the_middle_of_the_last_interval() -> None:
    assert observed_completion_seconds(90.0, 100.0) == 95.0
    assert observed_completion_seconds(None, 100.0) == 100.0
    assert observed_completion_seconds(120.0, 100.0) == 100.0
