"""Waiting for a job to end: polls with a growing interval, riding out a few transient failures;
between polls, a job with an expected end is handed to `on_progress` again so that a bar moves."""

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
# Between polls, `on_progress` gets the last job this often when it has an `estimated_done_at`
# (its `expected_progress()` moves with the time); no request is made for it.
PROGRESS_TICK_SECONDS = 0.5

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
        pause = interval if deadline is None else min(interval, deadline - now)
        _pause(pause, last, on_progress, sleep)
        interval = min(interval * POLL_BACKOFF, ceiling)


def _pause(
    seconds: float, last: Job | None, on_progress: ProgressCallback | None, sleep: Callable[[float], None]
) -> None:
    """Sleep until the next poll; with a running job whose expected end is known, in ticks of
    PROGRESS_TICK_SECONDS, each followed by `on_progress(last)` (the poll itself reports the
    last one)."""
    if on_progress is None or last is None or last.is_terminal or last.estimated_done_at is None:
        sleep(seconds)
        return
    while seconds > 0:
        step = min(PROGRESS_TICK_SECONDS, seconds)
        sleep(step)
        seconds -= step
        if seconds > 1e-9:
            on_progress(last)
