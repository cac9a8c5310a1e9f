"""Waiting for a job to end: polls with a growing interval, riding out a few transient failures."""

from __future__ import annotations

from collections.abc import Callable

from videohook_client.errors import VideohookConnectionError, VideohookServerError, VideohookTimeout
from videohook_client.models import Job

DEFAULT_WAIT_TIMEOUT = 900.0
DEFAULT_POLL_INTERVAL = 2.0
DEFAULT_MAX_POLL_INTERVAL = 10.0
POLL_BACKOFF = 1.5
# Consecutive 5xx / connection failures that `wait` rides out before giving up.
WAIT_MAX_CONSECUTIVE_FAILURES = 5

ProgressCallback = Callable[[Job], None]


def wait_until_terminal(
    get_video: Callable[[Job | str], Job],
    job: Job | str,
    *,
    timeout: float | None,
    poll_interval: float,
    max_poll_interval: float,
    on_progress: ProgressCallback | None,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> Job:
    """Poll `get_video(job)` until the job is terminal and return it (`VideohookClient.wait` says how)."""
    deadline = None if timeout is None else clock() + timeout
    interval = max(poll_interval, 0.0)
    ceiling = max(max_poll_interval, interval)
    last: Job | None = job if isinstance(job, Job) else None
    failures = 0
    while True:
        try:
            current = get_video(job)
        except (VideohookServerError, VideohookConnectionError):
            failures += 1
            if failures >= WAIT_MAX_CONSECUTIVE_FAILURES:
                raise
        else:
            failures = 0
            last = current
            if on_progress is not None:
                on_progress(current)
            if current.is_terminal:
                return current
        now = clock()
        if deadline is not None and now >= deadline:
            job_id = job.id if isinstance(job, Job) else job
            state = f" (last seen: {last.status}, {last.progress}%)" if last is not None else ""
            raise VideohookTimeout(f"job {job_id} did not finish within {timeout:g} s{state}", last)
        sleep(interval if deadline is None else min(interval, deadline - now))
        interval = min(interval * POLL_BACKOFF, ceiling)
