"""Pydantic models: the one source of truth for the public API, the job record
and the payloads that travel through the state machine."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ASPECT_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3")
AspectRatio = Literal["1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3"]
Resolution = Literal["480p", "720p", "1080p"]


class ProviderName(StrEnum):
    COMETAPI = "cometapi"
    XAI = "xai"
    AIMLAPI = "aimlapi"
    SANDBOX = "sandbox"


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELED = "canceled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.EXPIRED, JobStatus.CANCELED})


def utc_now() -> datetime:
    return datetime.now(UTC)


class JobError(BaseModel):
    """A failure as callers see it: a stable machine-readable code and a human message."""

    code: str
    message: str


class ImageInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="An https URL or a data:image/(png|jpeg|webp);base64, URI")


class CreateVideoRequest(BaseModel):
    """Body of POST /v1/videos."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=4096)
    model: str | None = Field(default=None, max_length=64)
    duration: int | None = Field(default=None, ge=1, le=15)
    resolution: Resolution | None = None
    aspect_ratio: AspectRatio | None = None
    image: ImageInput | None = None
    reference_images: list[str] | None = Field(default=None, min_length=1, max_length=7)
    user: str | None = Field(default=None, max_length=256)
    webhook_url: str | None = Field(default=None, max_length=2048)
    metadata: dict[str, Any] | None = None
    provider: ProviderName | None = None


class VideoArtifact(BaseModel):
    """The finished video, in the caller's bucket."""

    s3_uri: str
    bytes: int
    sha256: str
    content_type: str = "video/mp4"
    download_url: str | None = None


class JobView(BaseModel):
    """The job as callers see it: GET /v1/videos/{id}, webhooks and SNS."""

    id: str
    status: JobStatus = JobStatus.QUEUED
    provider: ProviderName
    provider_request_id: str | None = None
    progress: int = Field(default=0, ge=0, le=100)
    prompt: str
    model: str | None = None
    duration: int | None = None
    resolution: Resolution | None = None
    aspect_ratio: AspectRatio | None = None
    image: ImageInput | None = None
    reference_images: list[str] | None = None
    user: str | None = None
    webhook_url: str | None = None
    metadata: dict[str, Any] | None = None
    video: VideoArtifact | None = None
    error: JobError | None = None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None


class Job(JobView):
    """The job record as stored in DynamoDB: the public fields plus the workflow's own."""

    tenant_id: str
    # The provider's temporary URL: internal, it may carry the provider's signature.
    provider_video_url: str | None = None
    poll_count: int = 0
    consecutive_poll_errors: int = 0
    deadline_at: datetime

    def public_view(self, download_url: str | None = None) -> JobView:
        view = JobView.model_validate(self.model_dump(include=set(JobView.model_fields)))
        if view.video is not None and download_url is not None:
            view.video = view.video.model_copy(update={"download_url": download_url})
        return view


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


# ---- state machine payloads ------------------------------------------------


class WorkflowInput(BaseModel):
    """Execution input written by submit, and what every task passes on."""

    job_id: str
    wait_seconds: int = Field(ge=0)


class PollResult(BaseModel):
    """Output of the poll step: the Choice state branches on `status`."""

    job_id: str
    status: JobStatus
    wait_seconds: int = Field(ge=0)


class FinalizeResult(BaseModel):
    job_id: str
    status: JobStatus


class TaskFailure(BaseModel):
    """What a Catch hands to the fail step: Step Functions' error and cause."""

    job_id: str
    error: dict[str, Any] = Field(default_factory=dict)


class PublishedEvent(BaseModel):
    """Output of the publish step, input of the webhook step."""

    job_id: str
    event_id: str
    event: dict[str, Any]


EventType = Literal[
    "video.queued", "video.running", "video.succeeded", "video.failed", "video.canceled", "video.expired"
]


class WebhookEvent(BaseModel):
    """Body of every webhook and SNS message."""

    type: EventType
    timestamp: datetime
    data: dict[str, Any]
