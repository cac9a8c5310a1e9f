"""Provider adapters against every documented response shape, over httpx.MockTransport (no sockets)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from videohook.config import Settings
from videohook.models import JobStatus, ProviderName
from videohook.providers import (
    SUPPORTS_REFERENCE_IMAGES,
    build_adapter,
    contract_of,
    validate_capabilities,
)
from videohook.providers.aimlapi import AimlApiAdapter
from videohook.providers.base import (
    GenerationRequest,
    HttpAdapter,
    ProviderAuthError,
    ProviderMalformed,
    ProviderRejected,
    ProviderTimeout,
    ProviderTransient,
    ProviderUnsupported,
    parse_progress,
    parse_retry_after,
)
from videohook.providers.cometapi import CometApiAdapter
from videohook.providers.xai import XaiAdapter

BASE = "https://provider.invalid"
KEY = "sk-test-SUPERSECRET-0123456789"
VIDEO = "https://vidgen.x.ai/xai-vidgen-bucket/xai-video-abc.mp4"
DATA_URI = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)

Reply = httpx.Response | Callable[[httpx.Request], httpx.Response]
ALL_ADAPTERS = [XaiAdapter, CometApiAdapter, AimlApiAdapter]
FLAT_ADAPTERS = [XaiAdapter, CometApiAdapter]


def make(cls: type[HttpAdapter], *replies: Reply) -> tuple[Any, list[httpx.Request]]:
    """An adapter whose client answers with `replies` in order and records every request."""
    calls: list[httpx.Request] = []
    queue = list(replies)

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        reply = queue.pop(0)
        return reply(request) if callable(reply) else reply

    return cls(BASE, KEY, httpx.Client(transport=httpx.MockTransport(handler))), calls


def poll_with(cls: type[HttpAdapter], body: Any, status_code: int = 200) -> Any:
    adapter, _ = make(cls, httpx.Response(status_code, json=body))
    return adapter.poll("req-1")


def sent_json(request: httpx.Request) -> dict[str, Any]:
    return json.loads(request.content)


def raise_(exc_type: type[httpx.RequestError]) -> Callable[[httpx.Request], httpx.Response]:
    def reply(request: httpx.Request) -> httpx.Response:
        raise exc_type("boom", request=request)

    return reply


# ---- request bodies ----------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "path"),
    [(XaiAdapter, "/v1/videos/generations"), (CometApiAdapter, "/grok/v1/videos/generations")],
)
def test_xai_shape_submit_sends_exact_body(cls: type[HttpAdapter], path: str) -> None:
    adapter, calls = make(cls, httpx.Response(200, json={"request_id": "req-9"}))
    request = GenerationRequest(
        prompt="clouds drift",
        model="grok-imagine-video-1.5",
        duration=5,
        resolution="720p",
        aspect_ratio="16:9",
        image_url=DATA_URI,
        user="end-user-7",
        upload_url="https://bucket.invalid/signed?sig=1",
    )
    assert adapter.submit(request) == "req-9"
    (call,) = calls
    assert call.method == "POST"
    assert str(call.url) == BASE + path
    assert call.headers["Authorization"] == f"Bearer {KEY}"
    assert sent_json(call) == {
        "prompt": "clouds drift",
        "model": "grok-imagine-video-1.5",
        "duration": 5,
        "aspect_ratio": "16:9",
        "resolution": "720p",
        "image": {"url": DATA_URI},
        "output": {"upload_url": "https://bucket.invalid/signed?sig=1"},
        "user": "end-user-7",
    }


@pytest.mark.parametrize("cls", FLAT_ADAPTERS)
def test_xai_shape_submit_omits_none_fields(cls: type[HttpAdapter]) -> None:
    adapter, calls = make(cls, httpx.Response(200, json={"request_id": "r"}))
    adapter.submit(GenerationRequest(prompt="a candle flickers", model="grok-imagine-video"))
    assert sent_json(calls[0]) == {"prompt": "a candle flickers", "model": "grok-imagine-video"}


def test_aimlapi_submit_maps_fields_and_drops_user() -> None:
    adapter, calls = make(AimlApiAdapter, httpx.Response(200, json={"id": "gen-1", "status": "queued"}))
    request = GenerationRequest(
        prompt="p",
        model="grok-imagine-video-1.5",
        duration=6,
        resolution="480p",
        aspect_ratio="1:1",
        image_url=DATA_URI,
        user="end-user-7",
    )
    assert adapter.submit(request) == "gen-1"
    (call,) = calls
    assert str(call.url) == BASE + "/v2/video/generations"
    assert call.headers["Authorization"] == f"Bearer {KEY}"
    assert sent_json(call) == {
        "model": "x-ai/grok-imagine-video",
        "prompt": "p",
        "image_url": DATA_URI,
        "duration": 6,
        "aspect_ratio": "1:1",
        "resolution": "480p",
    }


@pytest.mark.parametrize(
    "model", [None, "grok-imagine-video", "grok-imagine-video-1.5", "x-ai/grok-imagine-video"]
)
def test_aimlapi_model_mapping_and_reference_images(model: str | None) -> None:
    adapter, calls = make(AimlApiAdapter, httpx.Response(200, json={"id": "gen-1", "status": "queued"}))
    adapter.submit(
        GenerationRequest(prompt="p", model=model, reference_images=("https://a/1.png", "https://a/2.png"))
    )
    assert sent_json(calls[0]) == {
        "model": "x-ai/grok-imagine-video",
        "prompt": "p",
        "reference_images": ["https://a/1.png", "https://a/2.png"],
    }


@pytest.mark.parametrize(
    ("cls", "request_", "field"),
    [
        (
            XaiAdapter,
            GenerationRequest(prompt="p", reference_images=("https://a/1.png",)),
            "reference_images",
        ),
        (
            CometApiAdapter,
            GenerationRequest(prompt="p", reference_images=("https://a/1.png",)),
            "reference_images",
        ),
        (
            AimlApiAdapter,
            GenerationRequest(prompt="p", upload_url="https://bucket.invalid/put"),
            "upload_url",
        ),
        (
            AimlApiAdapter,
            GenerationRequest(prompt="p", image_url="https://a/0.png", reference_images=("https://a/1.png",)),
            "reference_images",
        ),
    ],
)
def test_unsupported_features_refused_before_any_request(
    cls: type[HttpAdapter], request_: GenerationRequest, field: str
) -> None:
    adapter, calls = make(cls)
    with pytest.raises(ProviderUnsupported) as info:
        adapter.submit(request_)
    assert info.value.field == field
    assert isinstance(info.value, ProviderRejected)
    assert calls == []


# ---- xAI poll ----------------------------------------------------------------


def test_xai_poll_202_empty_body_is_queued() -> None:
    adapter, calls = make(XaiAdapter, httpx.Response(202))
    state = adapter.poll("req/1")
    assert state.status is JobStatus.QUEUED
    assert calls[0].method == "GET"
    assert calls[0].url.raw_path == b"/v1/videos/req%2F1"  # ids are quoted, never a path
    assert calls[0].headers["Authorization"] == f"Bearer {KEY}"


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
        "video": {"url": VIDEO, "duration": 8, "respect_moderation": True},
        "usage": {"cost_in_usd_ticks": 1},
    }
    state = poll_with(cls, body)
    assert (state.status, state.video_url, state.progress, state.raw_status) == (
        JobStatus.SUCCEEDED,
        VIDEO,
        100,
        "done",
    )


@pytest.mark.parametrize("cls", FLAT_ADAPTERS)
@pytest.mark.parametrize(
    "video",
    [None, {}, {"url": "", "respect_moderation": True}, {"url": VIDEO, "respect_moderation": False}],
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
    state = poll_with(XaiAdapter, {"status": "failed", "error": {"message": f"bad key {KEY}"}})
    assert KEY not in state.error.message


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
        fail_reason=VIDEO,
        nested={
            "request_id": "req-1",
            "status": "done",
            "model": "grok-imagine-video",
            "video": {"url": VIDEO},
        },
    )
    state = poll_with(CometApiAdapter, body)
    assert (state.status, state.video_url, state.error) == (JobStatus.SUCCEEDED, VIDEO, None)


def test_cometapi_success_without_nested_uses_fail_reason_url() -> None:
    state = poll_with(CometApiAdapter, envelope("SUCCESS", progress="100%", fail_reason=VIDEO))
    assert (state.status, state.video_url) == (JobStatus.SUCCEEDED, VIDEO)


def test_cometapi_nested_done_wins_over_wrapper_failure() -> None:
    body = envelope(
        "FAILURE", fail_reason="late relay error", nested={"status": "done", "video": {"url": VIDEO}}
    )
    assert poll_with(CometApiAdapter, body).status is JobStatus.SUCCEEDED


def test_cometapi_nested_moderation_is_failed() -> None:
    body = envelope(
        "SUCCESS", nested={"status": "done", "video": {"url": VIDEO, "respect_moderation": False}}
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
    adapter, calls = make(CometApiAdapter, httpx.Response(200, json={"request_id": "abc"}))
    adapter.poll("abc")
    assert str(calls[0].url) == BASE + "/grok/v1/videos/abc"


# ---- AI/ML API poll ----------------------------------------------------------


def test_aimlapi_poll_url() -> None:
    adapter, calls = make(AimlApiAdapter, httpx.Response(200, json={"id": "g 1", "status": "queued"}))
    adapter.poll("g 1")
    assert calls[0].method == "GET"
    assert calls[0].url.path == "/v2/video/generations"
    assert calls[0].url.params["generation_id"] == "g 1"


@pytest.mark.parametrize(
    "shape",
    [
        {"video": {"url": VIDEO}},
        {"video": VIDEO},
        {"video_url": VIDEO},
        {"output": {"url": VIDEO}},
        {"videos": [VIDEO]},
        {"videos": [{"url": VIDEO}]},
        {"url": VIDEO},
    ],
)
def test_aimlapi_completed_accepts_url_shapes(shape: dict) -> None:
    state = poll_with(AimlApiAdapter, {"id": "g", "status": "completed"} | shape)
    assert (state.status, state.video_url) == (JobStatus.SUCCEEDED, VIDEO)


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


# ---- error classification (one helper, every adapter) ------------------------


def submit(cls: type[HttpAdapter], *replies: Reply) -> str:
    adapter, _ = make(cls, *replies)
    return adapter.submit(GenerationRequest(prompt="p"))


@pytest.mark.parametrize("cls", ALL_ADAPTERS)
def test_429_retry_after_seconds(cls: type[HttpAdapter]) -> None:
    with pytest.raises(ProviderTransient) as info:
        submit(cls, httpx.Response(429, headers={"Retry-After": "7"}, json={"error": "slow down"}))
    assert (info.value.status_code, info.value.retry_after) == (429, 7.0)
    assert not isinstance(info.value, ProviderMalformed)


@pytest.mark.parametrize("cls", ALL_ADAPTERS)
def test_429_retry_after_http_date(cls: type[HttpAdapter]) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    adapter, _ = make(cls, httpx.Response(429, headers={"Retry-After": when}))
    with pytest.raises(ProviderTransient) as info:
        adapter.poll("req-1")
    assert 100 <= info.value.retry_after <= 121


def test_429_without_retry_after() -> None:
    with pytest.raises(ProviderTransient) as info:
        submit(XaiAdapter, httpx.Response(429))
    assert info.value.retry_after is None


def test_parse_retry_after_edge_cases() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now=now) == 30
    assert parse_retry_after("Wed, 31 Dec 2025 23:00:00 GMT", now=now) == 0  # in the past
    assert parse_retry_after("-5") == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize("value", [42, 42.9, "42%", " 42 % ", "42"])
def test_parse_progress(value: object) -> None:
    assert parse_progress(value) == 42
    assert parse_progress("n/a") is None
    assert parse_progress(True) is None
    assert parse_progress(250) == 100


@pytest.mark.parametrize("cls", ALL_ADAPTERS)
@pytest.mark.parametrize("status_code", [500, 502, 503])
def test_5xx_is_transient(cls: type[HttpAdapter], status_code: int) -> None:
    with pytest.raises(ProviderTransient) as info:
        submit(cls, httpx.Response(status_code, text="<html>bad gateway</html>"))
    assert info.value.status_code == status_code
    assert not isinstance(info.value, ProviderMalformed)


@pytest.mark.parametrize("cls", ALL_ADAPTERS)
@pytest.mark.parametrize(
    "exc_type", [httpx.ReadTimeout, httpx.ConnectTimeout, httpx.ConnectError, httpx.RemoteProtocolError]
)
def test_timeouts_and_resets_are_transient(
    cls: type[HttpAdapter], exc_type: type[httpx.RequestError]
) -> None:
    adapter, _ = make(cls, raise_(exc_type))
    with pytest.raises(ProviderTransient) as info:
        adapter.poll("req-1")
    assert cls.name in info.value.message


@pytest.mark.parametrize("cls", ALL_ADAPTERS)
@pytest.mark.parametrize(
    ("exc_type", "may_have_arrived"),
    [
        (httpx.ConnectTimeout, False),
        (httpx.ConnectError, False),
        (httpx.PoolTimeout, False),
        (httpx.ReadTimeout, True),
        (httpx.WriteTimeout, True),
        (httpx.RemoteProtocolError, True),
        (httpx.ReadError, True),
    ],
)
def test_a_submit_that_may_have_reached_the_provider_is_a_timeout(
    cls: type[HttpAdapter], exc_type: type[httpx.RequestError], may_have_arrived: bool
) -> None:
    """Submit must not retry these (a second paid job): they are told apart from the safe ones."""
    adapter, _ = make(cls, raise_(exc_type))
    with pytest.raises(ProviderTransient) as info:
        adapter.submit(GenerationRequest(prompt="a fox"))
    assert isinstance(info.value, ProviderTimeout) is may_have_arrived


@pytest.mark.parametrize("cls", ALL_ADAPTERS)
@pytest.mark.parametrize("status_code", [401, 403])
def test_auth_errors_never_show_the_key(cls: type[HttpAdapter], status_code: int) -> None:
    body = {"error": {"message": f"Incorrect API key provided: {KEY}"}}
    with pytest.raises(ProviderAuthError) as info:
        submit(cls, httpx.Response(status_code, json=body))
    assert KEY not in info.value.message
    assert KEY not in str(info.value)
    assert "refused our API key" in info.value.message
    assert info.value.status_code == status_code


@pytest.mark.parametrize("cls", ALL_ADAPTERS)
@pytest.mark.parametrize(
    ("status_code", "body", "expected"),
    [
        (400, {"error": {"message": "duration must be <= 15"}}, "duration must be <= 15"),
        (400, {"code": "invalid_request", "message": "prompt too long"}, "prompt too long"),
        (422, {"detail": "unsupported resolution"}, "unsupported resolution"),
        (
            400,
            {"message": ["duration must not be greater than 15"], "error": "Bad Request", "statusCode": 400},
            "duration must not be greater than 15",
        ),
        (400, "plain text complaint", "plain text complaint"),
    ],
)
def test_4xx_is_rejected_with_provider_message(
    cls: type[HttpAdapter], status_code: int, body: Any, expected: str
) -> None:
    reply = (
        httpx.Response(status_code, text=body)
        if isinstance(body, str)
        else httpx.Response(status_code, json=body)
    )
    with pytest.raises(ProviderRejected) as info:
        submit(cls, reply)
    assert expected in info.value.message
    assert info.value.status_code == status_code
    assert not isinstance(info.value, ProviderUnsupported)


@pytest.mark.parametrize("cls", ALL_ADAPTERS)
def test_404_rejected_on_submit_but_transient_on_poll(cls: type[HttpAdapter]) -> None:
    with pytest.raises(ProviderRejected):
        submit(cls, httpx.Response(404, json={"error": "model not found"}))
    adapter, _ = make(cls, httpx.Response(404, json={"error": "not found"}))
    with pytest.raises(ProviderTransient) as info:
        adapter.poll("fresh-id")
    assert info.value.status_code == 404


@pytest.mark.parametrize("cls", ALL_ADAPTERS)
def test_200_non_json_is_malformed_with_scrubbed_snippet(cls: type[HttpAdapter]) -> None:
    text = f"<html>maintenance {KEY} " + "x" * 1000 + "</html>"
    for call in ("submit", "poll"):
        adapter, _ = make(cls, httpx.Response(200, text=text))
        with pytest.raises(ProviderMalformed) as info:
            adapter.submit(GenerationRequest(prompt="p")) if call == "submit" else adapter.poll("req-1")
        message = info.value.message
        assert "<html>maintenance" in message
        assert KEY not in message
        snippet = message.split(": ", 1)[1]
        assert len(snippet) <= 200


@pytest.mark.parametrize("cls", ALL_ADAPTERS)
@pytest.mark.parametrize("body", [[1, 2], {"unexpected": True}, "null"])
def test_200_unknown_shape_on_submit_is_malformed(cls: type[HttpAdapter], body: Any) -> None:
    reply = httpx.Response(200, text=body) if isinstance(body, str) else httpx.Response(200, json=body)
    with pytest.raises(ProviderMalformed):
        submit(cls, reply)


def test_empty_200_poll_is_malformed() -> None:
    with pytest.raises(ProviderMalformed) as info:
        make(XaiAdapter, httpx.Response(200))[0].poll("req-1")
    assert "(empty body)" in info.value.message


# ---- build_adapter and capabilities ------------------------------------------


@pytest.mark.parametrize(
    ("provider", "contract", "cls", "url"),
    [
        (ProviderName.XAI, ProviderName.XAI, XaiAdapter, "https://x.test/v1/videos/generations"),
        (
            ProviderName.COMETAPI,
            ProviderName.COMETAPI,
            CometApiAdapter,
            "https://comet.test/grok/v1/videos/generations",
        ),
        (
            ProviderName.AIMLAPI,
            ProviderName.AIMLAPI,
            AimlApiAdapter,
            "https://aiml.test/v2/video/generations",
        ),
        (
            ProviderName.SANDBOX,
            ProviderName.COMETAPI,
            CometApiAdapter,
            "http://127.0.0.1:9/grok/v1/videos/generations",
        ),
    ],
)
def test_build_adapter(provider: ProviderName, contract: ProviderName, cls: type, url: str) -> None:
    settings = Settings(
        sandbox_contract=ProviderName.COMETAPI,
        base_urls={
            ProviderName.XAI: "https://x.test",
            ProviderName.COMETAPI: "https://comet.test/",
            ProviderName.AIMLAPI: "https://aiml.test",
            ProviderName.SANDBOX: "http://127.0.0.1:9",
        },
    )
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json={"request_id": "r", "id": "r"})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    adapter = build_adapter(provider, settings=settings, api_key=KEY, client=client)
    assert type(adapter) is cls
    assert contract_of(provider, settings) is contract
    adapter.submit(GenerationRequest(prompt="p"))
    assert str(calls[0].url) == url


def test_sandbox_errors_name_the_sandbox() -> None:
    settings = Settings(sandbox_contract=ProviderName.XAI)
    client = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(401)))
    adapter = build_adapter(ProviderName.SANDBOX, settings=settings, api_key=KEY, client=client)
    with pytest.raises(ProviderAuthError, match="^sandbox refused"):
        adapter.poll("r")


def test_contract_of_rejects_sandbox_as_its_own_contract() -> None:
    with pytest.raises(ValueError, match="sandbox_contract"):
        contract_of(ProviderName.SANDBOX, Settings(sandbox_contract=ProviderName.SANDBOX))


def test_validate_capabilities() -> None:
    refs = GenerationRequest(prompt="p", reference_images=("https://a/1.png",))
    assert SUPPORTS_REFERENCE_IMAGES == {ProviderName.AIMLAPI}
    validate_capabilities(ProviderName.AIMLAPI, refs)
    for contract in (ProviderName.XAI, ProviderName.COMETAPI):
        with pytest.raises(ProviderUnsupported):
            validate_capabilities(contract, refs)
    validate_capabilities(ProviderName.XAI, GenerationRequest(prompt="p", upload_url="https://b/put"))


@pytest.mark.parametrize(
    ("time_scale", "read", "connect"), [(1.0, 30.0, 10.0), (0.5, 15.0, 5.0), (0.02, 2.0, 2.0)]
)
def test_provider_timeouts_follow_the_stack_clock_down_to_a_floor(
    time_scale: float, read: float, connect: float
) -> None:
    """The local stack's sandbox waits scale with its clock; a submit timeout must too, or a
    `submit_delay` fault could never outlast it. A floor keeps a busy machine's answers in time."""
    seen: list[dict[str, float]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, json={"request_id": "req-1"})

    client = httpx.Client(transport=httpx.MockTransport(answer))
    settings = Settings(time_scale=time_scale)
    adapter = build_adapter(ProviderName.XAI, settings=settings, api_key=KEY, client=client)
    assert adapter.submit(GenerationRequest(prompt="a fox")) == "req-1"
    (timeout,) = seen
    assert (timeout["read"], timeout["connect"]) == (read, connect)
