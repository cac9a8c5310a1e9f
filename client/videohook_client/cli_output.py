"""What the `videohook` command prints: job lines, JSON, and progress on stderr."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from videohook_client.models import Job


def job_line(job: Job) -> str:
    """One line per job: id, status, progress, created_at (and the error of a failed job)."""
    created = job.raw.get("created_at") or (job.created_at.isoformat() if job.created_at else "-")
    line = f"{job.id}  {job.status.value:<9}  {job.progress:>3}%  {created}"
    if job.error is not None:
        line += f"  {job.error.code}: {job.error.message}"
    return line


def dump(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


class Progress:
    """Progress of a job (and of its download) on stderr.

    On a terminal: one bar redrawn in place. Otherwise (a log, a pipe, CI): a plain
    status line whenever the status changes, and at most every `interval` seconds
    in between. The percent is the job's `expected_progress()` at the time (`wall_clock`):
    the reported progress, moving toward the job's `estimated_done_at` between polls.
    """

    WIDTH = 30

    def __init__(
        self,
        stream: TextIO,
        *,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._stream = stream
        self._wall_clock = wall_clock
        isatty = getattr(stream, "isatty", None)
        self._tty = bool(isatty and isatty())
        self._interval = interval
        self._clock = clock
        self._started = clock()
        self._last_line = float("-inf")
        self._last_status: str | None = None
        self._drawn = False
        self._last_draw = float("-inf")

    def _bar(self, fraction: float) -> str:
        filled = int(round(max(0.0, min(fraction, 1.0)) * self.WIDTH))
        return "[" + "#" * filled + "-" * (self.WIDTH - filled) + "]"

    def _draw(self, text: str, *, force: bool = False) -> None:
        now = self._clock()
        if not force and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        self._stream.write("\r" + text + "\x1b[K")
        self._stream.flush()
        self._drawn = True

    def job(self, job: Job) -> None:
        elapsed = self._clock() - self._started
        status = job.status.value
        wall = self._wall_clock()
        expected = job.expected_progress(wall)
        percent = int(expected)  # 99.6 is not done yet
        left = ""
        if not job.is_terminal and job.estimated_done_at is not None:
            seconds = (job.estimated_done_at - wall).total_seconds()
            left = f", ~{seconds:.0f}s left" if seconds >= 1 else ", any moment"
        if self._tty:
            changed = status != self._last_status
            self._last_status = status
            bar = self._bar(expected / 100)
            text = f"{bar} {percent:>3}%  {status:<9}  {job.id}  {elapsed:.0f}s{left}"
            self._draw(text, force=changed or job.is_terminal)
            return
        now = self._clock()
        if status != self._last_status or now - self._last_line >= self._interval:
            self._last_status = status
            self._last_line = now
            self._stream.write(f"{job.id}: {status} {percent}% ({elapsed:.0f}s{left})\n")
            self._stream.flush()

    def download(self, received: int, total: int | None) -> None:
        if not self._tty:
            return
        mib = received / 2**20
        if total:
            text = f"{self._bar(received / total)} {100 * received // total:>3}%  downloading {mib:.1f}"
            text += f"/{total / 2**20:.1f} MiB"
        else:
            text = f"downloading {mib:.1f} MiB"
        self._draw(text, force=total is not None and received >= total)

    def close(self) -> None:
        """End the bar's line, so that what follows starts on a fresh one."""
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()
            self._drawn = False


class Io:
    """The command's stdout and stderr."""

    def __init__(self, stdout: TextIO, stderr: TextIO) -> None:
        self.stdout = stdout
        self.stderr = stderr

    def out(self, text: str) -> None:
        print(text, file=self.stdout, flush=True)

    def err(self, text: str) -> None:
        print(text, file=self.stderr, flush=True)

    def job(self, job: Job, as_json: bool) -> None:
        self.out(dump(job.raw) if as_json else job_line(job))


def wrote(io: Io, path: Path, job: Job) -> None:
    video = job.video
    detail = f"{video.bytes} bytes, sha256 {video.sha256}" if video and video.sha256 else "size verified"
    io.err(f"wrote {path} ({detail})")
