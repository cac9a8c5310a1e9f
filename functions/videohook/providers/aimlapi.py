"""AI/ML API's Grok Imagine video endpoints (docs/providers.md §3)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from videohook.models import JobStatus
from videohook.providers.base import (
    GenerationRequest,
    HttpAdapter,
    ProviderJobState,
    job_error,
    parse_progress,
)
from videohook.providers.xai import expired_result, moderated_result

AIMLAPI_MODEL = "x-ai/grok-imagine-video"

_DONE = frozenset({"completed", "succeeded", "success"})
_QUEUED = frozenset({"queued", "waiting", "pending"})
_FAILED = frozenset({"error", "failed", "failure"})
# Anything else ("generating", "processing", "active", or a value never seen) is "running":
# the status list is unverified, and a guessed failure would end a good job while a
# guessed "running" is bounded by the job deadline.


def request_body(request: GenerationRequest) -> dict[str, Any]:
    # AI/ML API exposes one id for the whole grok-imagine-video family (it is a required field).
    model = request.model
    if model is None or model.startswith("grok-imagine-video"):
        model = AIMLAPI_MODEL
    # `user` has no field here and only labels the end user for xAI's abuse tracking; dropping
    # it changes nothing about the video, so it is ignored rather than refused.
    body: dict[str, Any] = {
        "model": model,
        "prompt": request.prompt,
        "image_url": request.image_url,
        "reference_images": list(request.reference_images) if request.reference_images else None,
        "duration": request.duration,
        "aspect_ratio": request.aspect_ratio,
        "resolution": request.resolution,
    }
    return {key: value for key, value in body.items() if value is not None}


def video_url(body: Mapping[str, Any]) -> str | None:
    """The finished video's URL. Accepted shapes, first match wins: `video: {"url"}`,
    `video: "<url>"`, `video_url`, `output: {"url"}`, `videos: ["<url>" | {"url"}, ...]`, `url`."""
    videos = body.get("videos")
    first = videos[0] if isinstance(videos, list) and videos else None
    for candidate in (body.get("video"), body.get("video_url"), body.get("output"), first, body.get("url")):
        if isinstance(candidate, dict):
            candidate = candidate.get("url")
        if isinstance(candidate, str) and candidate:
            return candidate
    return None


def parse_generation(body: Mapping[str, Any]) -> ProviderJobState | None:
    """One poll answer as a state; None when the shape is not one we know."""
    raw = body.get("status")
    if not isinstance(raw, str) or not raw:
        return None
    status = raw.lower()
    progress = parse_progress(body.get("progress"))
    if status in _DONE:
        video = body.get("video")
        if isinstance(video, dict) and video.get("respect_moderation") is False:
            return moderated_result(raw)
        url = video_url(body)
        if url is None:
            return None  # completed without a URL we can find: report the body rather than guess
        return ProviderJobState(status=JobStatus.SUCCEEDED, progress=100, video_url=url, raw_status=raw)
    if status in _FAILED:
        error = job_error(body.get("error"), default_message="the provider reported the generation as failed")
        if error.code == "expired":  # an error status whose code says the job expired
            return expired_result(raw)
        return ProviderJobState(status=JobStatus.FAILED, error=error, raw_status=raw)
    if status == "expired":
        return expired_result(raw)
    if status in _QUEUED:
        return ProviderJobState(status=JobStatus.QUEUED, progress=progress, raw_status=raw)
    return ProviderJobState(status=JobStatus.RUNNING, progress=progress, raw_status=raw)


class AimlApiAdapter(HttpAdapter):
    name = "aimlapi"
    supports_reference_images = True
    path = "/v2/video/generations"

    def submit(self, request: GenerationRequest) -> str:
        return self._create(self.path, request, request_body, "id")

    def poll(self, request_id: str) -> ProviderJobState:
        response = self._send("GET", self.path, params={"generation_id": request_id}, polling=True)
        return self._state(response, parse_generation, "generation")
