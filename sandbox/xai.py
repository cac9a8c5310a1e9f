"""The xAI contract (docs/providers.md §2): ``POST /v1/videos/generations``, ``GET /v1/videos/{id}``.

CometAPI relays it (``sandbox/cometapi.py``): the same create body, the same flat poll body.
"""

from __future__ import annotations

import re
from typing import Any

from sandbox.answers import ApiError, CannedResponse, json_answer
from sandbox.contract import Contract, PollOptions, failure_error
from sandbox.create_checks import check_url, duration_resolution_aspect, job_params, prompt_and_model
from sandbox.jobs import Job

SIZES = {"848x480": "480p", "1696x960": "720p", "1280x720": "720p", "1920x1080": "1080p"}


def validate_create(body: Any) -> dict[str, Any]:
    """Validate a create body like the real API; return the normalized job parameters."""
    prompt, model = prompt_and_model(body)
    if not prompt:
        raise ApiError(400, "missing_field", "prompt is required")
    if "reference_images" in body:
        raise ApiError(400, "unsupported_field", "reference_images is not supported by this endpoint")
    if model is None:
        model = "grok-imagine-video"
    elif not model.startswith("grok-imagine-video"):
        raise ApiError(422, "invalid_value", f"model {model!r} is not supported by this endpoint")
    image = body.get("image")
    if image is not None:
        if not isinstance(image, dict):
            raise ApiError(422, "invalid_value", "image must be an object with a url")
        check_url(image.get("url"), "image.url", allow_data=True)
    output = body.get("output")
    upload_url = None
    if output is not None:
        if not isinstance(output, dict):
            raise ApiError(422, "invalid_value", "output must be an object with an upload_url")
        check_url(output.get("upload_url"), "output.upload_url", allow_data=False)
        upload_url = output["upload_url"]
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise ApiError(422, "invalid_value", "user must be a string")
    size = body.get("size")
    if size is not None:
        if "resolution" in body or "aspect_ratio" in body:
            raise ApiError(400, "invalid_request", "size cannot be combined with resolution or aspect_ratio")
        if size not in SIZES:
            raise ApiError(422, "invalid_value", f"size must be one of {', '.join(SIZES)}")
    duration, resolution, aspect_ratio = duration_resolution_aspect(body, default_duration=8)
    if size is not None:
        resolution = SIZES[size]
    return job_params(prompt, model, duration, resolution, aspect_ratio, upload_url)


def poll_id(path: str, query: str) -> str:
    return path.rsplit("/", 1)[1]


def created(job: Job) -> dict[str, Any]:
    return {"request_id": job.id}


def flat_body(job: Job, now: float) -> dict[str, Any] | None:
    """The xAI-shaped poll body, or ``None`` while pending (the "echo" phase)."""
    phase, progress = job.phase(now)
    if phase == "pending":
        return None
    if phase == "queued":
        return {"status": "queued"}
    if phase == "processing":
        return {"status": "processing", "progress": progress}
    if job.outcome == "succeeded":
        return {
            "status": "done",
            "progress": 100,
            "video": {"url": job.video_url, "duration": job.duration, "respect_moderation": True},
            "model": job.model,
        }
    if job.outcome == "moderated":
        return {
            "status": "done",
            "progress": 100,
            "video": {"duration": job.duration, "respect_moderation": False},
            "model": job.model,
        }
    if job.outcome == "failed":
        return {"status": "failed", "error": failure_error()}
    return {"status": "expired"}


def flat_answer(job: Job, flat: dict[str, Any] | None) -> CannedResponse:
    """The flat body, or the echo of the request id while pending."""
    return json_answer(200, flat if flat is not None else {"request_id": job.id})


def poll_answer(job: Job, now: float, poll_number: int, options: PollOptions) -> CannedResponse:
    flat = flat_body(job, now)
    pending = flat is None or flat["status"] in ("queued", "processing")
    if pending and options.pending_202:
        return CannedResponse(202, b"", None, fault="fault_pending_202")
    return flat_answer(job, flat)


CONTRACT = Contract(
    name="xai",
    create_path="/v1/videos/generations",
    poll_path=re.compile(r"/v1/videos/([^/]+)"),
    validate=validate_create,
    poll_id=poll_id,
    created=created,
    poll_answer=poll_answer,
)
