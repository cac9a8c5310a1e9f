"""The poll-interval policy: pure, deterministic, always an int within [MIN_WAIT, MAX_WAIT]."""

from __future__ import annotations

import itertools

import pytest

from videohook.polling import (
    MAX_WAIT_SECONDS,
    MIN_WAIT_SECONDS,
    expected_generation_seconds,
    first_wait_seconds,
    next_wait_seconds,
)

RESOLUTIONS = (None, "480p", "720p", "1080p", "4k")
DURATIONS = (None, 1, 5, 8, 15)


def _next(
    elapsed: float,
    progress: int | None = None,
    *,
    duration: int | None = 8,
    resolution: str | None = "720p",
    retry_after: float | None = None,
) -> int:
    return next_wait_seconds(
        elapsed_seconds=elapsed,
        progress=progress,
        duration=duration,
        resolution=resolution,
        retry_after=retry_after,
    )


# ---- bounds --------------------------------------------------------------------


def test_bounds_are_sane() -> None:
    assert 1 <= MIN_WAIT_SECONDS < MAX_WAIT_SECONDS


def test_first_wait_is_clamped_to_max_for_long_high_resolution_clips() -> None:
    # (30 + 6*15) * 1.6 / 3 = 64 s predicted -> capped.
    assert first_wait_seconds(15, "1080p") == MAX_WAIT_SECONDS


def test_next_wait_is_clamped_to_max_early_in_a_long_job() -> None:
    assert _next(0.5, None, duration=15, resolution="1080p") == MAX_WAIT_SECONDS


def test_next_wait_is_clamped_to_min_close_to_the_end() -> None:
    # 99% after 10 s: about 0.1 s remain, half of that rounds to 0 -> MIN.
    assert _next(10, 99) == MIN_WAIT_SECONDS


# ---- first wait ----------------------------------------------------------------


def test_first_wait_default_clip() -> None:
    # (30 + 6*8) * 1.0 / 3 = 26
    assert first_wait_seconds(None, None) == 26
    assert first_wait_seconds(8, "720p") == 26


@pytest.mark.parametrize("resolution", ["480p", "720p", "1080p"])
def test_first_wait_grows_with_duration(resolution: str) -> None:
    waits = [first_wait_seconds(d, resolution) for d in range(1, 16)]
    assert waits == sorted(waits)
    assert waits[0] < waits[-1]


@pytest.mark.parametrize("duration", [1, 3, 5])
def test_first_wait_grows_with_resolution(duration: int) -> None:
    low, mid, high = (first_wait_seconds(duration, r) for r in ("480p", "720p", "1080p"))
    assert low < mid < high


def test_expected_generation_seconds_values() -> None:
    assert expected_generation_seconds(None, None) == pytest.approx(78.0)
    assert expected_generation_seconds(5, "480p") == pytest.approx(60.0 * 0.8)
    assert expected_generation_seconds(5, "1080p") == pytest.approx(60.0 * 1.6)
    # Unknown resolutions count as 720p.
    assert expected_generation_seconds(5, "4k") == expected_generation_seconds(5, "720p")


# ---- progress-based estimate -----------------------------------------------------


def test_progress_halfway_waits_half_of_the_remaining_estimate() -> None:
    # 30 s for 50% -> ~30 s remain -> wait ~15 s.
    assert _next(30, 50) == 15


def test_progress_estimate_ignores_duration_and_resolution() -> None:
    assert (
        _next(30, 50, duration=1, resolution="480p") == _next(30, 50, duration=15, resolution="1080p") == 15
    )


@pytest.mark.parametrize(
    ("elapsed", "progress", "expected"),
    [
        (10, 25, 15),  # 30 s remain
        (20, 80, 2),  # 5 s remain -> 2.5 -> round half to even
        (40, 90, 2),  # ~4.4 s remain
        (4, 10, 18),  # 36 s remain
    ],
)
def test_progress_estimate_table(elapsed: float, progress: int, expected: int) -> None:
    assert _next(elapsed, progress) == expected


def test_polls_get_denser_as_progress_advances() -> None:
    waits = [_next(30, p) for p in (10, 30, 50, 70, 90)]
    assert waits == sorted(waits, reverse=True)
    assert waits[0] > waits[-1]


@pytest.mark.parametrize("progress", [None, 0, 100])
def test_without_usable_progress_the_prediction_is_used(progress: int | None) -> None:
    # 78 s predicted for 8 s at 720p; 18 s elapsed -> 60 s remain -> wait 30.
    assert _next(18, progress) == 30
    # 58 s elapsed -> 20 s remain -> wait 10.
    assert _next(58, progress) == 10


# ---- late jobs -------------------------------------------------------------------


@pytest.mark.parametrize("elapsed", [78, 79, 120, 3600])
def test_late_jobs_poll_every_three_seconds(elapsed: float) -> None:
    assert _next(elapsed, None) == 3


def test_late_job_depends_on_prediction() -> None:
    # 100 s is late for a 1 s 480p clip (28.8 s predicted) but not for 15 s at 1080p (192 s).
    assert _next(100, None, duration=1, resolution="480p") == 3
    assert _next(100, None, duration=15, resolution="1080p") == MAX_WAIT_SECONDS


# ---- retry_after -----------------------------------------------------------------


@pytest.mark.parametrize("retry_after", [2, 7.0, 12.4, 29])
def test_retry_after_is_honoured(retry_after: float) -> None:
    assert _next(30, 50, retry_after=retry_after) == round(retry_after)


def test_retry_after_overrides_progress_and_prediction() -> None:
    assert _next(10, 99, retry_after=20) == 20
    assert _next(3600, None, retry_after=20) == 20


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        (0, MIN_WAIT_SECONDS),
        (0.2, MIN_WAIT_SECONDS),
        (-5, MIN_WAIT_SECONDS),
        (31, MAX_WAIT_SECONDS),
        (86400, MAX_WAIT_SECONDS),
    ],
)
def test_retry_after_is_clamped(retry_after: float, expected: int) -> None:
    assert _next(30, 50, retry_after=retry_after) == expected


@pytest.mark.parametrize("retry_after", [float("inf"), float("nan")])
def test_non_finite_retry_after_still_gives_a_bounded_wait(retry_after: float) -> None:
    assert MIN_WAIT_SECONDS <= _next(30, 50, retry_after=retry_after) <= MAX_WAIT_SECONDS


# ---- determinism and the property check (a grid: hypothesis is not installed) ------


def test_same_inputs_same_output() -> None:
    first = [_next(e, p) for e in (0, 5, 30, 90) for p in (None, 10, 50)]
    again = [_next(e, p) for e in (0, 5, 30, 90) for p in (None, 10, 50)]
    assert first == again
    assert [first_wait_seconds(d, r) for d in DURATIONS for r in RESOLUTIONS] == [
        first_wait_seconds(d, r) for d in DURATIONS for r in RESOLUTIONS
    ]


GRID = list(
    itertools.product(
        (0, 0.001, 1, 29.5, 78, 1000, 10**7),  # elapsed
        (None, 0, 1, 33, 99, 100),  # progress
        DURATIONS,
        RESOLUTIONS,
        (None, 0, 0.5, 3, 30.4, 10**6),  # retry_after
    )
)


def test_next_wait_is_always_an_int_within_bounds() -> None:
    for elapsed, progress, duration, resolution, retry_after in GRID:
        wait = next_wait_seconds(
            elapsed_seconds=elapsed,
            progress=progress,
            duration=duration,
            resolution=resolution,
            retry_after=retry_after,
        )
        assert type(wait) is int, (elapsed, progress, duration, resolution, retry_after)
        assert MIN_WAIT_SECONDS <= wait <= MAX_WAIT_SECONDS, (
            elapsed,
            progress,
            duration,
            resolution,
            retry_after,
        )


@pytest.mark.parametrize(("duration", "resolution"), list(itertools.product(DURATIONS, RESOLUTIONS)))
def test_first_wait_is_always_an_int_within_bounds(duration: int | None, resolution: str | None) -> None:
    wait = first_wait_seconds(duration, resolution)
    assert type(wait) is int
    assert MIN_WAIT_SECONDS <= wait <= MAX_WAIT_SECONDS
