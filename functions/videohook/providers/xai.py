"""xAI's video API (docs/providers.md §2).

The flat job object parsed here is also what CometAPI relays, so `parse_job`
is the one reading of it and `cometapi.py` builds on this adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from videohook.models import JobError, JobStatus
from videohook.providers.base import (
    GenerationRequest,
    HttpAdapter,
    ProviderJobState,
    job_error,
    parse_progress,
)


def request_body(request: GenerationRequest) -> dict[str, Any]:
    """The create body shared by xAI and CometAPI; fields we have no value for are left out."""
    # Tolerate the AI/ML API spelling of the model id: the wire here wants the bare name.
    model = request.model.removeprefix("x-ai/") if request.model else None
    body: dict[str, Any] = {
        "prompt": request.prompt,
        "model": model,
        "duration": request.duration,
        "aspect_ratio": request.aspect_ratio,
        "resolution": request.resolution,
        "image": {"url": request.image_url} if request.image_url else None,
        "output": {"upload_url": request.upload_url} if request.upload_url else None,
        "user": request.user,
    }
    return {key: value for key, value in body.items() if value is not None}


def expired_result(raw_status: str) -> ProviderJobState:
    """The provider dropped the job before it finished: `expired`, the same for every contract."""
    error = JobError(code="provider_expired", message="the provider expired the job before it finished")
    return ProviderJobState(status=JobStatus.EXPIRED, error=error, raw_status=raw_status)


def moderated_result(raw: str) -> ProviderJobState:
    """A moderated generation "completes" without a usable video: a failed job, not a success."""
    error = JobError(
        code="moderation_blocked", message="the provider finished without a usable video (moderation)"
    )
    return ProviderJobState(status=JobStatus.FAILED, error=error, raw_status=raw)


def _done(body: Mapping[str, Any], raw: str) -> ProviderJobState:
    video = body.get("video")
    url = video.get("url") if isinstance(video, dict) else None
    moderated = isinstance(video, dict) and video.get("respect_moderation") is False
    if not isinstance(url, str) or not url or moderated:
        return moderated_result(raw)
    return ProviderJobState(status=JobStatus.SUCCEEDED, progress=100, video_url=url, raw_status=raw)


def parse_job(body: Mapping[str, Any]) -> ProviderJobState | None:
    """One flat xAI job object as a state; None when the shape is not one we know."""
    raw = body.get("status")
    if raw is None:
        # While pending, the answer may only echo the id back: keep polling.
        return ProviderJobState(status=JobStatus.QUEUED) if "request_id" in body else None
    if not isinstance(raw, str):
        return None
    progress = parse_progress(body.get("progress"))
    match raw.lower():
        case "pending" | "queued":
            return ProviderJobState(status=JobStatus.QUEUED, progress=progress, raw_status=raw)
        case "processing":
            return ProviderJobState(status=JobStatus.RUNNING, progress=progress, raw_status=raw)
        case "done":
            return _done(body, raw)
        case "failed":
            error = job_error(body.get("error"), default_message="the provider reported the job as failed")
            return ProviderJobState(status=JobStatus.FAILED, error=error, raw_status=raw)
        case "expired":
            return expired_result(raw)
    # A status outside the contract is an unknown shape: transient for a few polls, then a failure
    # that shows the body, which beats guessing "running" until the deadline.
    return None


class XaiAdapter(HttpAdapter):
    name = "xai"
    supports_upload_url = True
    create_path = "/v1/videos/generations"
    job_path = "/v1/videos/{request_id}"

    def submit(self, request: GenerationRequest) -> str:
        return self._create(self.create_path, request, request_body, "request_id")

    def poll(self, request_id: str) -> ProviderJobState:
        path = self.job_path.format(request_id=quote(request_id, safe=""))
        response = self._send("GET", path, polling=True)
        if response.status_code == 202 and not response.content.strip():
            return ProviderJobState(status=JobStatus.QUEUED)  # xAI's "accepted, not started yet"
        return self._state(response, self._parse, "job")

    def _parse(self, body: dict[str, Any]) -> ProviderJobState | None:
        """The one step CometAPI overrides: it may wrap this object in an envelope."""
        return parse_job(body)
