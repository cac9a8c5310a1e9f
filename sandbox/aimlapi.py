"""The AI/ML API contract (docs/providers.md §3): ``POST /v2/video/generations``,
``GET /v2/video/generations?generation_id={id}``."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from sandbox.answers import ApiError, CannedResponse, json_answer
from sandbox.contract import Contract, PollOptions, failure_error
from sandbox.create_checks import check_url, duration_resolution_aspect, job_params, prompt_and_model
from sandbox.jobs import Job


def validate_create(body: Any) -> dict[str, Any]:
    """Validate a create body like the real API; return the normalized job parameters."""
    prompt, model = prompt_and_model(body)
    if model is None:
        raise ApiError(400, "missing_field", "model is required")
    if not model.startswith("x-ai/grok-imagine-video"):
        raise ApiError(422, "invalid_value", f"model {model!r} is not supported by this endpoint")
    image_url = body.get("image_url")
    references = body.get("reference_images")
    if image_url is not None and references is not None:
        raise ApiError(400, "invalid_request", "image_url cannot be combined with reference_images")
    if image_url is not None:
        check_url(image_url, "image_url", allow_data=True)
    if references is not None:
        if not isinstance(references, list) or not 1 <= len(references) <= 7:
            raise ApiError(422, "invalid_value", "reference_images must be a list of 1 to 7 URLs")
        for index, ref in enumerate(references):
            check_url(ref, f"reference_images[{index}]", allow_data=True)
    if not prompt and image_url is None and references is None:
        raise ApiError(400, "missing_field", "prompt is required for text-to-video")
    duration, resolution, aspect_ratio = duration_resolution_aspect(body, default_duration=10)
    return job_params(prompt, model, duration, resolution, aspect_ratio, None)


def poll_id(path: str, query: str) -> str:
    ids = parse_qs(query).get("generation_id") or []
    if not ids or not ids[0]:
        raise ApiError(400, "missing_field", "generation_id query parameter is required")
    return ids[0]


def created(job: Job) -> dict[str, Any]:
    return {"id": job.id, "status": "queued"}


def poll_body(job: Job, now: float) -> dict[str, Any]:
    phase, _ = job.phase(now)
    body: dict[str, Any] = {"id": job.id, "status": "queued", "video": None, "error": None}
    if phase == "processing":
        body["status"] = "generating"
    elif phase == "terminal":
        if job.outcome == "succeeded":
            body.update(status="completed", video={"url": job.video_url})
        elif job.outcome == "moderated":
            body.update(status="completed", video={"url": None, "respect_moderation": False})
        elif job.outcome == "failed":
            body.update(status="error", error=failure_error())
        else:
            body.update(status="error", error={"code": "expired", "message": "The generation expired."})
    return body


def poll_answer(job: Job, now: float, poll_number: int, options: PollOptions) -> CannedResponse:
    return json_answer(200, poll_body(job, now))


CONTRACT = Contract(
    name="aimlapi",
    create_path="/v2/video/generations",
    poll_path=None,
    validate=validate_create,
    poll_id=poll_id,
    created=created,
    poll_answer=poll_answer,
)
