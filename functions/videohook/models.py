"""Pydantic models: the one source of truth for the public API and the job record (the
state machine's payloads: `workflow_payloads`; webhooks' own: `webhook_models`)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from videohook.request_rules import (
    MAX_IMAGE_BYTES,
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    MAX_URL_CHARS,
    image_url,
    metadata_rule,
    reference_image_url,
)

ASPECT_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3")
AspectRatio = Literal["1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3"]
Resolution = Literal["480p", "720p", "1080p"]

KNOWN_MODELS = ("grok-imagine-video", "grok-imagine-video-1.5")
MODELS_WITHOUT_1080P = ("grok-imagine-video",)
MAX_PROMPT_CHARS = 4096
MAX_REFERENCE_IMAGES = 7
MAX_METADATA_KEYS = 32
# Larger images go through POST /v1/uploads (a presigned S3 PUT).
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
UPLOAD_CONTENT_TYPES = ("image/png", "image/jpeg", "image/webp")
UploadContentType = Literal["image/png", "image/jpeg", "image/webp"]
UPLOAD_ID_PATTERN = r"^upl_[0-9a-z]{26}$"
IMAGE_URL_PATTERN = r"^(https://|data:image/(png|jpeg|webp);base64,)"
# The header that makes a POST safe to retry; errors about it name it as their field.
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"


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


class Model(BaseModel):
    """Base of every videohook model: its validator is built at its first use, not at import.

    A Lambda's invocation uses a few of the models (a submit: the request, the job and its
    view), so a cold start builds those few and not the twenty others.
    """

    model_config = ConfigDict(defer_build=True)


def every_field_required(schema: dict[str, Any]) -> None:
    """An answer's schema: it carries every field (null when unset), so generated clients need not guess."""
    schema["required"] = list(schema.get("properties", {}))


class JobError(Model):
    """A failure as callers see it: a stable machine-readable code and a human message."""

    code: str
    message: str


class ImageInput(Model):
    """The first frame: exactly one of `url` and `upload_id`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {"required": ["url"], "properties": {"url": {"type": "string"}}},
                {"required": ["upload_id"], "properties": {"upload_id": {"type": "string"}}},
            ]
        },
    )

    url: str | None = Field(
        default=None,
        description=(
            "An https URL, or a data:image/(png|jpeg|webp);base64, URI of at most "
            f"{MAX_IMAGE_BYTES} decoded bytes (larger images: POST /v1/uploads). "
            "Jobs show data URIs shortened."
        ),
        json_schema_extra={"pattern": IMAGE_URL_PATTERN},
    )
    upload_id: str | None = Field(
        default=None,
        description="An upload from POST /v1/uploads (the provider gets a presigned GET URL of it)",
        pattern=UPLOAD_ID_PATTERN,
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> ImageInput:
        if (self.url is None) == (self.upload_id is None):
            raise PydanticCustomError(
                "invalid_image", "image: send exactly one of image.url and image.upload_id"
            )
        return self


class _RequestedImageUrl(Model):
    """The rule of a requested image URL, with the URL where its errors point (`image.url`).

    Not on ImageInput itself: jobs show that model too, with data URIs shortened."""

    url: Annotated[str, AfterValidator(image_url)]


EventType = Literal[
    "video.queued", "video.running", "video.succeeded", "video.failed", "video.canceled", "video.expired"
]


class CreateVideoRequest(Model):
    """Body of POST /v1/videos."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(
        min_length=1, max_length=MAX_PROMPT_CHARS, description="What the video shows; not blank"
    )
    model: str | None = Field(
        default=None,
        max_length=64,
        description=f"Default {KNOWN_MODELS[0]}; {', '.join(MODELS_WITHOUT_1080P)} has no 1080p",
        json_schema_extra={"enum": [*KNOWN_MODELS, None]},
    )
    duration: int | None = Field(default=None, ge=1, le=15, strict=True, description="Seconds, an integer")
    resolution: Resolution | None = None
    aspect_ratio: AspectRatio | None = None
    image: ImageInput | None = Field(default=None, description="Image to video: the first frame")
    reference_images: (
        list[Annotated[str, Field(max_length=MAX_URL_CHARS), AfterValidator(reference_image_url)]] | None
    ) = Field(
        default=None,
        min_length=1,
        max_length=MAX_REFERENCE_IMAGES,
        description="https URLs; never with `image`; only for providers that support them (aimlapi)",
        json_schema_extra={"items": {"type": "string", "maxLength": MAX_URL_CHARS, "pattern": "^https://"}},
    )
    user: str | None = Field(default=None, max_length=256, description="Your end user's id, for the provider")
    webhook_url: str | None = Field(
        default=None,
        max_length=MAX_URL_CHARS,
        description=(
            "Where the signed event is POSTed: https, public addresses only "
            "(the local stack also allows http://127.0.0.1)"
        ),
        json_schema_extra={"pattern": "^https?://"},
    )
    webhook_events: list[EventType] | None = Field(
        default=None,
        min_length=1,
        max_length=6,
        description="Which events to POST to webhook_url (default: all); terminal events are always sent",
    )
    metadata: dict[str, Any] | None = Field(
        default=None,
        max_length=MAX_METADATA_KEYS,
        description=(
            f"Yours, returned with the job: a JSON object of at most {MAX_METADATA_KEYS} keys, "
            f"{MAX_METADATA_BYTES} bytes and {MAX_METADATA_DEPTH} levels"
        ),
    )
    provider: ProviderName | None = Field(default=None, description="Default: the deployment's provider")

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, prompt: str) -> str:
        if not prompt.strip():
            raise PydanticCustomError("invalid_prompt", "prompt must not be blank")
        return prompt

    @field_validator("model")
    @classmethod
    def _model(cls, model: str | None) -> str | None:
        if model is not None and model not in KNOWN_MODELS:
            raise PydanticCustomError("unknown_model", f"model must be one of {', '.join(KNOWN_MODELS)}")
        return model

    @field_validator("resolution")
    @classmethod
    def _resolution(cls, resolution: str | None, info: ValidationInfo) -> str | None:
        # The named model only: without one, the deployment's default applies (submit checks it).
        model = info.data.get("model")
        if resolution == "1080p" and model in MODELS_WITHOUT_1080P:
            raise PydanticCustomError("unsupported_resolution", f"{model} has no 1080p")
        return resolution

    @field_validator("image")
    @classmethod
    def _image(cls, image: ImageInput | None) -> ImageInput | None:
        if image is not None and image.url is not None:
            _RequestedImageUrl.model_validate({"url": image.url})  # its errors come out at image.url
        return image

    @field_validator("reference_images")
    @classmethod
    def _reference_images(cls, urls: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if urls is not None and info.data.get("image") is not None:
            raise PydanticCustomError("conflicting_inputs", "send image or reference_images, not both")
        return urls

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, metadata: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if metadata is None else metadata_rule(metadata)


class VideoArtifact(Model):
    """The finished video, in the caller's bucket."""

    model_config = ConfigDict(json_schema_extra=every_field_required)

    s3_uri: str
    bytes: int
    sha256: str
    content_type: str = "video/mp4"
    download_url: str | None = None


class JobView(Model):
    """The job as callers see it: GET /v1/videos/{id}, webhooks and SNS."""

    model_config = ConfigDict(json_schema_extra=every_field_required)

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
    webhook_events: list[EventType] | None = None
    metadata: dict[str, Any] | None = None
    video: VideoArtifact | None = None
    error: JobError | None = None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None
    estimated_done_at: datetime | None = Field(
        default=None,
        description=(
            "When the job is expected to end: the median of videohook's forecast, set once the "
            "provider accepted the job and updated at every poll of the provider; null before"
        ),
    )


class Job(JobView):
    """The job record as stored in DynamoDB: the public fields plus the workflow's own."""

    tenant_id: str
    # The provider's temporary URL: internal, it may carry the provider's signature.
    provider_video_url: str | None = None
    poll_count: int = 0
    consecutive_poll_errors: int = 0
    # Only unreadable answers count toward failing the job; 5xx, 404 and timeouts just back off.
    consecutive_malformed_polls: int = 0
    # The provider has not reported the job rendering yet (as at submit): the poll policy's
    # "queued", which the job's own status no longer shows (a job runs once accepted).
    provider_queued: bool = True
    deadline_at: datetime
    # Set from the job's creation until its workflow execution has started (or the submit
    # failed it): the key of the `by_submission` index, where the reconciler finds submits
    # that died half-way.
    submission: Literal["in_progress"] | None = None

    def public_view(self, download_url: str | None = None) -> JobView:
        view = JobView.model_validate(self.model_dump(include=set(JobView.model_fields)))
        if view.video is not None and download_url is not None:
            view.video = view.video.model_copy(update={"download_url": download_url})
        return view


class JobList(Model):
    """GET /v1/videos: one page of the caller's jobs, newest first."""

    model_config = ConfigDict(json_schema_extra=every_field_required)

    data: list[JobView]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null on the last page"
    )


class CreateUploadRequest(Model):
    """Body of POST /v1/uploads."""

    model_config = ConfigDict(extra="forbid")

    content_type: UploadContentType
    bytes: int = Field(ge=1, le=MAX_UPLOAD_BYTES, strict=True, description="Size of the image in bytes")


class UploadView(Model):
    """Where to PUT the image; then create the job with `image: {"upload_id": ...}`."""

    upload_id: str = Field(pattern=UPLOAD_ID_PATTERN)
    upload_url: str = Field(description="Presigned S3 URL: PUT the image bytes there")
    method: Literal["PUT"] = "PUT"
    headers: dict[str, str] = Field(description="Headers the PUT must carry")
    expires_at: datetime = Field(description="The upload URL works until then")


class ErrorBody(Model):
    code: str = Field(description="Stable, machine-readable")
    message: str
    field: str | None = Field(
        default=None, description="The offending field (dotted path), query parameter or header, if any"
    )


class ErrorResponse(Model):
    error: ErrorBody
