"""The create-body checks the wire contracts share, and the job parameters they produce."""

from __future__ import annotations

from typing import Any

from sandbox.answers import ApiError

RESOLUTIONS = ("480p", "720p", "1080p")
ASPECT_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3")
MODELS_WITHOUT_1080P = ("grok-imagine-video", "x-ai/grok-imagine-video")


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_url(value: Any, field_name: str, *, allow_data: bool) -> None:
    if not isinstance(value, str) or not value:
        raise ApiError(422, "invalid_value", f"{field_name} must be a non-empty string")
    if value.startswith(("http://", "https://")):
        return
    if allow_data and value.startswith("data:image/") and ";base64," in value:
        return
    allowed = "an http(s) URL or a data:image/...;base64, URI" if allow_data else "an http(s) URL"
    raise ApiError(422, "invalid_value", f"{field_name} must be {allowed}")


def prompt_and_model(body: Any) -> tuple[str | None, str | None]:
    """The first checks of every contract: a JSON object whose prompt and model are strings."""
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "the request body must be a JSON object")
    prompt = body.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise ApiError(422, "invalid_value", "prompt must be a string")
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise ApiError(422, "invalid_value", "model must be a string")
    return prompt, model


def duration_resolution_aspect(body: dict[str, Any], default_duration: int) -> tuple[int, str, str]:
    duration = body.get("duration", default_duration)
    if not is_int(duration) or not 1 <= duration <= 15:
        raise ApiError(422, "invalid_value", "duration must be an integer from 1 to 15")
    resolution = body.get("resolution")
    if resolution is not None and resolution not in RESOLUTIONS:
        raise ApiError(422, "invalid_value", f"resolution must be one of {', '.join(RESOLUTIONS)}")
    aspect_ratio = body.get("aspect_ratio")
    if aspect_ratio is not None and aspect_ratio not in ASPECT_RATIOS:
        raise ApiError(422, "invalid_value", f"aspect_ratio must be one of {', '.join(ASPECT_RATIOS)}")
    return duration, resolution or "720p", aspect_ratio or "16:9"


def job_params(
    prompt: str | None,
    model: str,
    duration: int,
    resolution: str,
    aspect_ratio: str,
    upload_url: str | None,
) -> dict[str, Any]:
    """The normalized job parameters, after the last check every contract makes (1080p)."""
    if resolution == "1080p" and model in MODELS_WITHOUT_1080P:
        raise ApiError(
            422, "unsupported_resolution", f"model {model} does not support 1080p; use a 1.5 model"
        )
    return {
        "prompt": prompt or "",
        "model": model,
        "duration": duration,
        "resolution": resolution,
        "aspect_ratio": aspect_ratio,
        "upload_url": upload_url,
    }
