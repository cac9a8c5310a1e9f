"""videohook.providers.cometapi: CometAPI's envelope, over httpx.MockTransport (no sockets)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fakes import (
    PROVIDER_BASE_URL,
    PROVIDER_VIDEO_URL,
    poll_with,
    scripted_adapter,
)
from videohook.models import JobStatus
from videohook.providers.base import (
    ProviderMalformed,
)
from videohook.providers.cometapi import CometApiAdapter

# ---- CometAPI envelope -------------------------------------------------------


def envelope(
    status: str, *, nested: dict | None = None, progress: str = "", fail_reason: str = "", **top: Any
):
    task: dict[str, Any] = {
        "task_id": "req-1",
        "action": "VIDEO_GENERATION",
        "status": status,
        "fail_reason": fail_reason,
        "submit_time": 1767225600,
        "start_time": 1767225601,
        "finish_time": 0,
        "progress": progress,
    }
    if nested is not None:
        task["data"] = nested
    return {"code": "success", "message": "", "data": task} | top


def test_cometapi_documented_success_with_url_in_fail_reason() -> None:
    body = envelope(
        "SUCCESS",
        progress="100%",
        fail_reason=PROVIDER_VIDEO_URL,
        nested={
            "request_id": "req-1",
            "status": "done",
            "model": "grok-imagine-video",
            "video": {"url": PROVIDER_VIDEO_URL},
        },
    )
    state = poll_with(CometApiAdapter, body)
    assert (state.status, state.video_url, state.error) == (JobStatus.SUCCEEDED, PROVIDER_VIDEO_URL, None)


def test_cometapi_success_without_nested_uses_fail_reason_url() -> None:
    state = poll_with(CometApiAdapter, envelope("SUCCESS", progress="100%", fail_reason=PROVIDER_VIDEO_URL))
    assert (state.status, state.video_url) == (JobStatus.SUCCEEDED, PROVIDER_VIDEO_URL)


def test_cometapi_nested_done_wins_over_wrapper_failure() -> None:
    body = envelope(
        "FAILURE",
        fail_reason="late relay error",
        nested={"status": "done", "video": {"url": PROVIDER_VIDEO_URL}},
    )
    assert poll_with(CometApiAdapter, body).status is JobStatus.SUCCEEDED


def test_cometapi_nested_moderation_is_failed() -> None:
    body = envelope(
        "SUCCESS",
        nested={"status": "done", "video": {"url": PROVIDER_VIDEO_URL, "respect_moderation": False}},
    )
    assert poll_with(CometApiAdapter, body).error.code == "moderation_blocked"


def test_cometapi_wrapper_failure_uses_fail_reason() -> None:
    state = poll_with(CometApiAdapter, envelope("FAILURE", fail_reason="content policy violation"))
    assert state.status is JobStatus.FAILED
    assert (state.error.code, state.error.message) == ("provider_failed", "content policy violation")


def test_cometapi_wrapper_failure_while_nested_running() -> None:
    body = envelope(
        "FAILURE", fail_reason="upstream crashed", nested={"status": "processing", "progress": 10}
    )
    state = poll_with(CometApiAdapter, body)
    assert (state.status, state.error.message) == (JobStatus.FAILED, "upstream crashed")


def test_cometapi_top_level_code_failure_uses_message() -> None:
    state = poll_with(
        CometApiAdapter, {"code": "fail_to_fetch_task", "message": "task_not_exist", "data": None}
    )
    assert state.status is JobStatus.FAILED
    assert state.error.message == "task_not_exist"


def test_cometapi_nested_failure_keeps_provider_error() -> None:
    nested = {"status": "failed", "error": {"code": "invalid_argument", "message": "duration too long"}}
    state = poll_with(CometApiAdapter, envelope("FAILURE", fail_reason="failed", nested=nested))
    assert (state.error.code, state.error.message) == ("invalid_argument", "duration too long")


@pytest.mark.parametrize(
    ("body", "status", "progress"),
    [
        (envelope("IN_PROGRESS", progress="37%"), JobStatus.RUNNING, 37),
        (envelope("IN_PROGRESS", progress="37%", nested={"request_id": "req-1"}), JobStatus.RUNNING, 37),
        (envelope("IN_PROGRESS", progress="37%", nested={"status": "processing"}), JobStatus.RUNNING, 37),
        (
            envelope("IN_PROGRESS", progress="37%", nested={"status": "processing", "progress": 40}),
            JobStatus.RUNNING,
            40,
        ),
        (envelope("NOT_START", progress="0%"), JobStatus.QUEUED, 0),
        (envelope("SUBMITTED", nested={"status": "pending"}), JobStatus.QUEUED, None),
    ],
)
def test_cometapi_envelope_pending_states(body: dict, status: JobStatus, progress: int | None) -> None:
    state = poll_with(CometApiAdapter, body)
    assert (state.status, state.progress, state.error) == (status, progress, None)


@pytest.mark.parametrize("body", [envelope("SUCCESS"), envelope("WEIRD"), {"code": "success", "data": {}}])
def test_cometapi_unknown_envelope_is_malformed(body: dict) -> None:
    with pytest.raises(ProviderMalformed):
        poll_with(CometApiAdapter, body)


def test_cometapi_poll_path() -> None:
    adapter, calls = scripted_adapter(CometApiAdapter, httpx.Response(200, json={"request_id": "abc"}))
    adapter.poll("abc")
    assert str(calls[0].url) == PROVIDER_BASE_URL + "/grok/v1/videos/abc"
