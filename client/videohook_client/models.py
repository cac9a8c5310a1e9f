"""Client-side models of the videohook API's responses.

Deliberately independent of the server's models (`functions/videohook/models.py`):
the client ships on its own and must keep working when the server adds fields,
so every model ignores fields it does not know, and the raw JSON of a response
is kept beside the parsed one (`Job.raw`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, PrivateAttr


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELED = "canceled"

    @property
    def is_terminal(self) -> bool:
        return self not in (JobStatus.QUEUED, JobStatus.RUNNING)


TERMINAL_STATUSES = frozenset(status for status in JobStatus if status.is_terminal)
# The most `Job.expected_progress` shows before the job has ended: a late job waits at it.
MAX_EXPECTED_PROGRESS = 99.0


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Video(_Model):
    download_url: str | None = None
    s3_uri: str | None = None
    bytes: int | None = None
    sha256: str | None = None
    content_type: str | None = None


class JobError(_Model):
    code: str
    message: str


class Job(_Model):
    id: str
    status: JobStatus
    provider: str | None = None
    provider_request_id: str | None = None
    progress: int = 0
    prompt: str | None = None
    model: str | None = None
    duration: int | None = None
    resolution: str | None = None
    aspect_ratio: str | None = None
    image: dict[str, Any] | None = None
    reference_images: list[str] | None = None
    user: str | None = None
    webhook_url: str | None = None
    metadata: dict[str, Any] | None = None
    video: Video | None = None
    error: JobError | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    completed_at: datetime | None = None
    estimated_done_at: datetime | None = None

    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Job:
        job = cls.model_validate(data)
        job._raw = data
        return job

    @property
    def raw(self) -> dict[str, Any]:
        """The job exactly as the API sent it."""
        return self._raw or self.model_dump(mode="json")

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    @property
    def succeeded(self) -> bool:
        return self.status is JobStatus.SUCCEEDED

    def expected_progress(self, now: datetime | None = None) -> float:
        """The percent a progress bar shows at `now` (default: the current time).

        The reported `progress` as of when it was reported (`updated_at`; `created_at` while it
        is 0), advancing linearly to 100 at `estimated_done_at`, but never past
        MAX_EXPECTED_PROGRESS before the job ends. Each new report is where the bar snaps to;
        a job without an expected end (an older server, not yet accepted, ended) shows its
        reported progress.
        """
        reported = float(self.progress)
        if self.status is not JobStatus.RUNNING or self.estimated_done_at is None:
            return reported
        since = self.created_at if self.progress == 0 else self.updated_at or self.created_at
        if since is None:
            return reported
        now = now or datetime.now(UTC)
        span = (self.estimated_done_at - since).total_seconds()
        fraction = 1.0 if span <= 0 else min(1.0, max(0.0, (now - since).total_seconds() / span))
        return max(reported, min(MAX_EXPECTED_PROGRESS, reported + (100.0 - reported) * fraction))


class Page(_Model):
    data: list[Job]
    next_cursor: str | None = None

    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Page:
        page = cls(
            data=[Job.from_json(item) for item in data.get("data", [])], next_cursor=data.get("next_cursor")
        )
        page._raw = data
        return page

    @property
    def raw(self) -> dict[str, Any]:
        return self._raw or {"data": [job.raw for job in self.data], "next_cursor": self.next_cursor}


class Upload(_Model):
    upload_id: str
    upload_url: str
    method: str = "PUT"
    headers: dict[str, str] = {}
    expires_at: datetime | None = None
