"""handlers.api, in process with a fake runtime: the request rules of the models as callers see
them (status, code, field, message), a route's error answered from the one table of error
answers (tests/unit/test_handlers_rest_api_errors.py), and API instances answering side by side."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from handlers import api
from handlers.rest_api import deliveries, request_context, uploads, videos
from tests.fakes import FakeRuntime
from videohook import job_reads
from videohook.models import JobView, ProviderName, utc_now
from videohook.request_rules import MAX_IMAGE_BYTES

TOO_LARGE_DATA_URI = "data:image/png;base64," + "A" * ((MAX_IMAGE_BYTES // 3 + 1) * 4)


class Context:
    function_name, aws_request_id = "ApiFunction", "request-1"
    memory_limit_in_mb, invoked_function_arn = 512, ""

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def event(method: str, path: str, body: Any = None, *, api_key_id: str = "key_t") -> dict[str, Any]:
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "queryStringParameters": None,
        "pathParameters": None,
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
        "requestContext": {
            "requestId": "request-1",
            "stage": "v1",
            "httpMethod": method,
            "path": path,
            "resourcePath": path,
            "identity": {"apiKeyId": api_key_id, "sourceIp": "127.0.0.1"},
        },
    }


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> FakeRuntime:
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "videohook-test")
    fake = FakeRuntime()
    for routes in (videos, deliveries, uploads):
        monkeypatch.setattr(routes, "get_runtime", lambda: fake)
    return fake


def answer(handler: Any, request: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
    result = handler(request, Context())
    return result["statusCode"], json.loads(result["body"]), result.get("headers") or {}


# ---- the models' request rules, through the handler ------------------------------------

# (name, body fields, status, code, field, message or None when only its presence matters)
REQUEST_REJECTIONS: list[tuple[str, dict[str, Any], int, str, str, str | None]] = [
    ("blank prompt", {"prompt": "   \n\t"}, 400, "invalid_prompt", "prompt", "prompt must not be blank"),
    (
        "unknown model",
        {"model": "grok-2-video"},
        400,
        "unknown_model",
        "model",
        "model must be one of grok-imagine-video, grok-imagine-video-1.5",
    ),
    (
        "1080p explicit model",
        {"model": "grok-imagine-video", "resolution": "1080p"},
        400,
        "unsupported_resolution",
        "resolution",
        "grok-imagine-video has no 1080p",
    ),
    (
        "data uri gif",
        {"image": {"url": "data:image/gif;base64,R0lGODlhAQABAAAAACw="}},
        400,
        "invalid_image",
        "image.url",
        "data URIs must be data:image/(png|jpeg|webp);base64,...",
    ),
    (
        "data uri not base64 alphabet",
        {"image": {"url": "data:image/png;base64,not*base64!"}},
        400,
        "invalid_image",
        "image.url",
        None,
    ),
    (
        "data uri bad padding",
        {"image": {"url": "data:image/png;base64,abcde"}},
        400,
        "invalid_image",
        "image.url",
        "the data URI is not valid base64",
    ),
    (
        "data uri empty",
        {"image": {"url": "data:image/png;base64,===="}},
        400,
        "invalid_image",
        "image.url",
        "the data URI holds no image",
    ),
    (
        "data uri too large",
        {"image": {"url": TOO_LARGE_DATA_URI}},
        413,
        "image_too_large",
        "image.url",
        f"the image exceeds {MAX_IMAGE_BYTES} bytes",
    ),
    (
        "http image",
        {"image": {"url": "http://example.com/first.png"}},
        400,
        "invalid_image",
        "image.url",
        "image URLs must be https URLs or data URIs",
    ),
    ("bare https", {"image": {"url": "https://"}}, 400, "invalid_image", "image.url", None),
    ("ftp image", {"image": {"url": "ftp://example.com/first.png"}}, 400, "invalid_image", "image.url", None),
    (
        "image and upload",
        {"image": {"url": "https://example.com/a.png", "upload_id": "upl_" + "1" * 26}},
        400,
        "invalid_image",
        "image",
        "image: send exactly one of image.url and image.upload_id",
    ),
    (
        "image and reference images",
        {
            "provider": "aimlapi",
            "image": {"url": "https://example.com/a.png"},
            "reference_images": ["https://example.com/b.png"],
        },
        400,
        "conflicting_inputs",
        "reference_images",
        "send image or reference_images, not both",
    ),
    (
        "http reference image",
        {
            "provider": "aimlapi",
            "reference_images": ["https://example.com/a.png", "http://example.com/b.png"],
        },
        400,
        "invalid_image",
        "reference_images.1",
        "reference images must be https URLs",
    ),
    (
        "metadata too large",
        {"metadata": {"blob": "x" * 4096}},
        400,
        "metadata_too_large",
        "metadata",
        "metadata exceeds 4096 bytes of JSON",
    ),
    (
        "metadata too deep",
        {"metadata": {"a": {"b": {"c": {"d": {"e": 1}}}}}},
        400,
        "metadata_too_deep",
        "metadata",
        "metadata nests deeper than 4 levels",
    ),
    ("metadata number", {"metadata": {"n": 1e300}}, 400, "invalid_metadata", "metadata", None),
    ("pydantic's own rule", {"duration": 0}, 400, "invalid_field", "duration", None),
]


@pytest.mark.parametrize(
    ("values", "status", "code", "field", "message"),
    [pytest.param(*case, id=name) for name, *case in REQUEST_REJECTIONS],
)
def test_request_rules_answer_their_code_and_field(
    runtime: FakeRuntime, values: dict[str, Any], status: int, code: str, field: str, message: str | None
) -> None:
    body = {"prompt": "a red fox running through snow", **values}
    got_status, got, _ = answer(api.handler, event("POST", "/v1/videos", body))
    assert (got_status, got["error"]["code"], got["error"]["field"]) == (status, code, field), got
    assert got["error"]["message"] == (message or got["error"]["message"]) and got["error"]["message"]
    if code == "invalid_field":
        assert got["error"]["message"].startswith(f"{field}: ")  # pydantic's messages name the field
    assert runtime.log == [], "nothing may be stored, submitted or started for a rejected request"


def test_a_valid_request_is_submitted(runtime: FakeRuntime) -> None:
    status, job, _ = answer(api.handler, event("POST", "/v1/videos", {"prompt": "a heron"}))
    assert status == 202 and job["status"] == "running" and job["provider"] == ProviderName.SANDBOX.value
    assert runtime.calls("adapter.submit")


def test_a_route_error_is_answered_from_the_table(runtime: FakeRuntime) -> None:
    status, body, _ = answer(api.handler, event("GET", "/v1/videos/vid_nope"))
    assert (status, body) == (
        404,
        {"error": {"code": "not_found", "message": "no video job 'vid_nope'", "field": "id"}},
    )
    status, body, _ = answer(api.handler, event("GET", "/v1/nowhere"))
    assert (status, body["error"]["code"]) == (404, "not_found")


# ---- instances side by side ------------------------------------------------------------


def test_two_instances_answer_interleaved_requests_each_with_its_own(
    runtime: FakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both requests are inside their route at once, and each instance was created after the
    other's Routers were last included elsewhere: each still reads its own request."""
    first, second = api.new_instance(), api.new_instance()
    both_inside = threading.Barrier(2, timeout=10)

    def get_job(runtime: Any, job_id: str, *, tenant_id: str) -> JobView:
        both_inside.wait()  # the other instance has received its request too
        now = utc_now()
        # The tenant as the route read it, and as read now, after the other request began.
        prompt = f"{tenant_id} {request_context.tenant_id()}"
        return JobView(
            id=job_id, provider=ProviderName.SANDBOX, prompt=prompt, created_at=now, updated_at=now
        )

    monkeypatch.setattr(job_reads, "get_job", get_job)
    answers: dict[str, tuple[int, dict[str, Any], dict[str, str]]] = {}

    def ask(name: str, handler: Any, tenant: str) -> None:
        answers[name] = answer(handler, event("GET", f"/v1/videos/vid_{tenant}", api_key_id=tenant))

    threads = [
        threading.Thread(target=ask, args=("first", first, "tenant_a")),
        threading.Thread(target=ask, args=("second", second, "tenant_b")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    (status_a, job_a, _), (status_b, job_b, _) = answers["first"], answers["second"]
    assert (status_a, job_a["id"], job_a["prompt"]) == (200, "vid_tenant_a", "tenant_a tenant_a")
    assert (status_b, job_b["id"], job_b["prompt"]) == (200, "vid_tenant_b", "tenant_b tenant_b")


def test_an_instance_is_instrumented_like_the_module_handler() -> None:
    from videohook import telemetry

    assert telemetry.is_instrumented(api.handler)
    assert telemetry.is_instrumented(api.new_instance())
