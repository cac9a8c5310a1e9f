"""What every provider adapter takes and returns, and the error classes it raises.

Adapters translate one wire contract; they never retry, sleep or log secrets.
Retrying is the caller's decision (submit retries transient errors within the
request; the workflow keeps polling through them until the job deadline).
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict

from videohook.models import JobError, JobStatus


class GenerationRequest(BaseModel):
    """Provider-neutral create request (see PROVIDERS.md section 4 for the mapping)."""

    model_config = ConfigDict(frozen=True)

    prompt: str
    model: str | None = None
    duration: int | None = None
    resolution: str | None = None
    aspect_ratio: str | None = None
    image_url: str | None = None
    reference_images: tuple[str, ...] | None = None
    user: str | None = None
    upload_url: str | None = None


class ProviderJobState(BaseModel):
    """One poll answer, normalized. `status` is queued/running while not terminal."""

    model_config = ConfigDict(frozen=True)

    status: JobStatus
    progress: int | None = None
    video_url: str | None = None
    error: JobError | None = None
    raw_status: str | None = None


class ProviderError(Exception):
    """Base of every adapter error. `code` is stable; `message` never holds a secret."""

    code = "provider_error"

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class ProviderRejected(ProviderError):
    """400/422: the request itself is bad. Surface as a 4xx of ours, never retry."""

    code = "provider_rejected"


class ProviderAuthError(ProviderError):
    """401/403: our provider key is wrong or missing. A 5xx of ours, never retried blindly."""

    code = "provider_auth_failed"


class ProviderTransient(ProviderError):
    """429, 5xx, timeouts, resets, non-JSON or unknown-shape bodies: retry with backoff."""

    code = "provider_unavailable"

    def __init__(
        self, message: str, *, status_code: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class ProviderMalformed(ProviderTransient):
    """A 200 whose body is not JSON or not a known shape: transient for a bounded number of polls."""

    code = "provider_malformed_response"


class ProviderUnsupported(ProviderRejected):
    """The request uses a feature this provider lacks (e.g. reference_images on xAI)."""

    code = "unsupported_by_provider"

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class ProviderAdapter(Protocol):
    """One provider's wire contract."""

    def submit(self, request: GenerationRequest) -> str:
        """Start a job; return the provider's request id."""
        ...

    def poll(self, request_id: str) -> ProviderJobState:
        """Ask for the job's state once."""
        ...
