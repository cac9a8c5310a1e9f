"""videohook.providers.xai: the xAI contract (CometAPI's flat answers share it), over
httpx.MockTransport (no sockets)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fakes import (
    FLAT_ADAPTERS,
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
from videohook.providers.base import (
    GenerationRequest,
    HttpAdapter,
    ProviderMalformed,
)
from videohook.providers.cometapi import CometApiAdapter
from videohook.providers.xai import XaiAdapter

# ---- request bodies ----------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "path"),
    [(XaiAdapter, "/v1/videos/generations"), (CometApiAdapter, "/grok/v1/videos/generations")],
)
def test_xai_shape_submit_sends_exact_body(cls: type[HttpAdapter], path: str) -> None:
    adapter, calls = scripted_adapter(cls, httpx.Response(200, json={"request_id": "req-9"}))
    request = SUBMIT_EVERY_FIELD
    assert adapter.submit(request) == "req-9"
    (call,) = calls
    assert call.method == "POST"
    assert str(call.url) == PROVIDER_BASE_URL + path
    assert call.headers["Authorization"] == f"Bearer {PROVIDER_KEY}"
    assert sent_json(call) == {
        "prompt": "clouds drift",
        "model": "grok-imagine-video-1.5",
        "duration": 5,
        "aspect_ratio": "16:9",
        "resolution": "720p",
        "image": {"url": PNG_DATA_URI},
        "output": {"upload_url": "https://bucket.invalid/signed?sig=1"},
        "user": "end-user-7",
    }


@pytest.mark.parametrize("cls", FLAT_ADAPTERS)
def test_xai_shape_submit_omits_none_fields(cls: type[HttpAdapter]) -> None:
    adapter, calls = scripted_adapter(cls, httpx.Response(200, json={"request_id": "r"}))
    adapter.submit(GenerationRequest(prompt="a candle flickers", model="grok-imagine-video"))
    assert sent_json(calls[0]) == {"prompt": "a candle flickers", "model": "grok-imagine-video"}


# ---- xAI poll ----------------------------------------------------------------


def test_xai_poll_202_empty_body_is_queued() -> None:
    adapter, calls = scripted_adapter(XaiAdapter, httpx.Response(202))
    state = adapter.poll("req/1")
    assert state.status is JobStatus.QUEUED
    assert calls[0].method == "GET"
    assert calls[0].url.raw_path == b"/v1/videos/req%2F1"  # ids are quoted, never a path
    assert calls[0].headers["Authorization"] == f"Bearer {PROVIDER_KEY}"


@pytest.mark.parametrize("cls", FLAT_ADAPTERS)
@pytest.mark.parametrize(
    ("body", "status", "progress"),
    [
        ({"request_id": "req-1"}, JobStatus.QUEUED, None),
        ({"status": "pending"}, JobStatus.QUEUED, None),
        ({"status": "queued", "request_id": "req-1"}, JobStatus.QUEUED, None),
        ({"status": "processing"}, JobStatus.RUNNING, None),
        ({"status": "processing", "progress": 42}, JobStatus.RUNNING, 42),
    ],
)
def test_flat_pending_states(
    cls: type[HttpAdapter], body: dict, status: JobStatus, progress: int | None
) -> None:
    state = poll_with(cls, body)
    assert (state.status, state.progress, state.error) == (status, progress, None)


@pytest.mark.parametrize("cls", FLAT_ADAPTERS)
def test_flat_done_is_succeeded_with_url(cls: type[HttpAdapter]) -> None:
    body = {
        "status": "done",
        "model": "grok-imagine-video",
        "video": {"url": PROVIDER_VIDEO_URL, "duration": 8, "respect_moderation": True},
        "usage": {"cost_in_usd_ticks": 1},
    }
    state = poll_with(cls, body)
    assert (state.status, state.video_url, state.progress, state.raw_status) == (
        JobStatus.SUCCEEDED,
        PROVIDER_VIDEO_URL,
        100,
        "done",
    )


@pytest.mark.parametrize("cls", FLAT_ADAPTERS)
@pytest.mark.parametrize(
    "video",
    [
        None,
        {},
        {"url": "", "respect_moderation": True},
        {"url": PROVIDER_VIDEO_URL, "respect_moderation": False},
    ],
    ids=["no-video", "no-url", "empty-url", "moderation-false"],
)
def test_flat_moderated_done_is_failed(cls: type[HttpAdapter], video: dict | None) -> None:
    body: dict[str, Any] = {"status": "done"}
    if video is not None:
        body["video"] = video
    state = poll_with(cls, body)
    assert state.status is JobStatus.FAILED
    assert state.video_url is None
    assert state.error.code == "moderation_blocked"


@pytest.mark.parametrize("cls", FLAT_ADAPTERS)
def test_flat_failed_carries_provider_error(cls: type[HttpAdapter]) -> None:
    state = poll_with(
        cls, {"status": "failed", "error": {"code": "invalid_image", "message": "image unreadable"}}
    )
    assert state.status is JobStatus.FAILED
    assert (state.error.code, state.error.message) == ("invalid_image", "image unreadable")


def test_xai_failed_without_error_gets_default_code() -> None:
    state = poll_with(XaiAdapter, {"status": "failed"})
    assert state.status is JobStatus.FAILED
    assert state.error.code == "provider_failed"
    assert state.error.message


def test_xai_failed_error_message_is_scrubbed() -> None:
    state = poll_with(XaiAdapter, {"status": "failed", "error": {"message": f"bad key {PROVIDER_KEY}"}})
    assert PROVIDER_KEY not in state.error.message


@pytest.mark.parametrize("cls", FLAT_ADAPTERS)
def test_flat_expired(cls: type[HttpAdapter]) -> None:
    state = poll_with(cls, {"status": "expired"})
    assert state.status is JobStatus.EXPIRED
    assert state.error.code == "provider_expired"


@pytest.mark.parametrize("body", [{"foo": 1}, {"status": "teleporting"}, {"status": 3}])
def test_xai_unknown_shape_is_malformed(body: dict) -> None:
    with pytest.raises(ProviderMalformed) as info:
        poll_with(XaiAdapter, body)
    assert "teleporting" in info.value.message or "foo" in info.value.message or "3" in info.value.message
