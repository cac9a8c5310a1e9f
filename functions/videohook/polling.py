"""How long the workflow waits before the next poll: pure and deterministic.

Generation time grows with clip length and resolution (PROVIDERS.md: a 720p
clip took about 107 s on AI/ML API). We wait for about half of what is
predicted to remain, so that polls get denser as the end approaches, within
[MIN_WAIT, MAX_WAIT] seconds of provider time.
"""

from __future__ import annotations

import math

MIN_WAIT_SECONDS = 1
MAX_WAIT_SECONDS = 30
DEFAULT_DURATION_SECONDS = 8
RESOLUTION_FACTOR = {"480p": 0.8, "720p": 1.0, "1080p": 1.6}


def expected_generation_seconds(duration: int | None, resolution: str | None) -> float:
    seconds = 30.0 + 6.0 * (duration or DEFAULT_DURATION_SECONDS)
    return seconds * RESOLUTION_FACTOR.get(resolution or "720p", 1.0)


def _clamp(seconds: float) -> int:
    if math.isnan(seconds):
        return MAX_WAIT_SECONDS
    return round(max(MIN_WAIT_SECONDS, min(MAX_WAIT_SECONDS, seconds)))


def first_wait_seconds(duration: int | None, resolution: str | None) -> int:
    return _clamp(expected_generation_seconds(duration, resolution) / 3)


def next_wait_seconds(
    *,
    elapsed_seconds: float,
    progress: int | None,
    duration: int | None,
    resolution: str | None,
    retry_after: float | None = None,
) -> int:
    """Seconds of provider time until the next poll."""
    if retry_after is not None:
        return _clamp(max(retry_after, MIN_WAIT_SECONDS))
    if progress and 0 < progress < 100 and elapsed_seconds > 0:
        remaining = elapsed_seconds * (100 - progress) / progress
    else:
        remaining = expected_generation_seconds(duration, resolution) - elapsed_seconds
    if remaining <= 0:
        # Later than predicted: poll at a steady, modest rate.
        return _clamp(3)
    return _clamp(remaining / 2)
