"""videohook.providers.aimlapi: the AI/ML API contract, over httpx.MockTransport (no sockets)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fakes import (
    PNG_DATA_URI,
    PROVIDER_BASE_URL,
    PROVIDER_KEY,
    PROVIDER_VIDEO_URL,
    SUBMIT_EVERY_FIELD,
    poll_with,
    scripted_adapter,
    sent_json,
)
from videohook.models import JobStatus
from videohook.providers.aimlapi import AimlApiAdapter
from videohook.providers.base import (
    GenerationRequest,
    ProviderMalformed,
)

# ---- submit ------------------------------------------------------------------


def test_aimlapi_submit_maps_fields_and_drops_user() -> None:
    adapter, calls = scripted_adapter(
        AimlApiAdapter, httpx.Response(200, json={"id": "gen-1", "status": "queued"})
    )
    request = SUBMIT_EVERY_FIELD.model_copy(update={"upload_url": None})  # not in its contract
    assert adapter.submit(request) == "gen-1"
    (call,) = calls
    assert str(call.url) == PROVIDER_BASE_URL + "/v2/video/generations"
    assert call.headers["Authorization"] == f"Bearer {PROVIDER_KEY}"
    assert sent_json(call) == {
        "model": "x-ai/grok-imagine-video",
        "prompt": "clouds drift",
        "image_url": PNG_DATA_URI,
        "duration": 5,
        "aspect_ratio": "16:9",
        "resolution": "720p",
    }


@pytest.mark.parametrize(
    "model", [None, "grok-imagine-video", "grok-imagine-video-1.5", "x-ai/grok-imagine-video"]
)
def test_aimlapi_model_mapping_and_reference_images(model: str | None) -> None:
    adapter, calls = scripted_adapter(
        AimlApiAdapter, httpx.Response(200, json={"id": "gen-1", "status": "queued"})
    )
    adapter.submit(
        GenerationRequest(prompt="p", model=model, reference_images=("https://a/1.png", "https://a/2.png"))
    )
    assert sent_json(calls[0]) == {
        "model": "x-ai/grok-imagine-video",
        "prompt": "p",
        "reference_images": ["https://a/1.png", "https://a/2.png"],
    }


# ---- AI/ML API poll ----------------------------------------------------------


def test_aimlapi_poll_url() -> None:
    adapter, calls = scripted_adapter(
        AimlApiAdapter, httpx.Response(200, json={"id": "g 1", "status": "queued"})
    )
    adapter.poll("g 1")
    assert calls[0].method == "GET"
    assert calls[0].url.path == "/v2/video/generations"
    assert calls[0].url.params["generation_id"] == "g 1"


@pytest.mark.parametrize(
    "shape",
    [
        {"video": {"url": PROVIDER_VIDEO_URL}},
        {"video": PROVIDER_VIDEO_URL},
        {"video_url": PROVIDER_VIDEO_URL},
        {"output": {"url": PROVIDER_VIDEO_URL}},
        {"videos": [PROVIDER_VIDEO_URL]},
        {"videos": [{"url": PROVIDER_VIDEO_URL}]},
        {"url": PROVIDER_VIDEO_URL},
    ],
)
def test_aimlapi_completed_accepts_url_shapes(shape: dict) -> None:
    state = poll_with(AimlApiAdapter, {"id": "g", "status": "completed"} | shape)
    assert (state.status, state.video_url) == (JobStatus.SUCCEEDED, PROVIDER_VIDEO_URL)


def test_aimlapi_completed_without_url_is_malformed() -> None:
    with pytest.raises(ProviderMalformed):
        poll_with(AimlApiAdapter, {"id": "g", "status": "completed", "meta": {}})


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("queued", JobStatus.QUEUED),
        ("waiting", JobStatus.QUEUED),
        ("generating", JobStatus.RUNNING),
        ("processing", JobStatus.RUNNING),
        ("active", JobStatus.RUNNING),
        ("something-new", JobStatus.RUNNING),
    ],
)
def test_aimlapi_pending_and_unknown_states(raw: str, status: JobStatus) -> None:
    state = poll_with(AimlApiAdapter, {"id": "g", "status": raw})
    assert (state.status, state.raw_status, state.error) == (status, raw, None)


@pytest.mark.parametrize(
    ("raw", "error", "message"),
    [
        ("error", "prompt rejected by safety filter", "prompt rejected by safety filter"),
        ("failed", {"name": "GenerationError", "message": "upstream timeout"}, "upstream timeout"),
        ("failed", None, None),
    ],
)
def test_aimlapi_failed(raw: str, error: Any, message: str | None) -> None:
    state = poll_with(AimlApiAdapter, {"id": "g", "status": raw, "error": error})
    assert state.status is JobStatus.FAILED
    assert state.error.code == "provider_failed"
    assert state.error.message == (message or "the provider reported the generation as failed")


@pytest.mark.parametrize(
    "body",
    [
        {"id": "g", "status": "expired"},
        {"id": "g", "status": "error", "error": {"code": "expired", "message": "The generation expired."}},
    ],
)
def test_aimlapi_expired_is_expired_like_the_other_contracts(body: dict[str, Any]) -> None:
    state = poll_with(AimlApiAdapter, body)
    assert state.status is JobStatus.EXPIRED
    assert state.error.code == "provider_expired"


def test_aimlapi_missing_status_is_malformed() -> None:
    with pytest.raises(ProviderMalformed):
        poll_with(AimlApiAdapter, {"id": "g"})
