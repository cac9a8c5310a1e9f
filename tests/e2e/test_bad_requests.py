"""Every rule of the API, broken once: the right 4xx, `error.code` and `error.field`, and nothing happens.

Each case goes through the local stack's HTTP API (API Gateway emulation, the api Lambda
handler). After each one, the tenant's jobs (counted through the by_tenant index) and the
sandbox provider's counters are exactly what they were: no job, no provider call.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Key

from devstack.api_gateway import tenant_id_for
from tests.conftest import API_KEY
from videohook.models import MAX_UPLOAD_BYTES
from videohook.request_rules import MAX_IMAGE_BYTES

pytestmark = pytest.mark.e2e

PNG_1PX = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
JSON_HEADERS = {"content-type": "application/json"}


@dataclass
class Bad:
    """One bad request and the answer it must get."""

    name: str
    status: int
    code: str
    field: str | None
    body: Any = None  # JSON-encoded unless `raw` is given
    raw: bytes | None = None
    method: str = "POST"
    path: str = "/v1/videos"
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    api_key: str | None = API_KEY
    message: str | None = None  # when set, the answer's message holds it


def video(**fields: Any) -> dict[str, Any]:
    return {"prompt": "A kettle boils on a stove.", **fields}


def bad_upload(name: str, code: str, field: str, body: Any) -> Bad:
    """A `POST /v1/uploads` answered 400 `code` for `field`."""
    return Bad(name, 400, code, field, path="/v1/uploads", body=body)


def cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


TOO_LARGE_IMAGE = "data:image/png;base64," + "A" * ((MAX_IMAGE_BYTES // 3 + 1) * 4)
BAD = [
    # ---- the body as a whole
    Bad("malformed JSON", 400, "invalid_json", None, raw=b'{"prompt": "a fox'),
    Bad("empty body", 400, "missing_body", None, raw=b""),
    Bad("JSON null", 400, "missing_body", None, raw=b"null"),
    Bad("JSON array", 400, "invalid_body", None, body=[video()]),
    Bad("JSON string", 400, "invalid_body", None, body="a fox"),
    Bad(
        "text/plain",
        415,
        "unsupported_media_type",
        "Content-Type",
        raw=json.dumps(video()).encode(),
        headers={"content-type": "text/plain"},
    ),
    Bad(
        "form encoded",
        415,
        "unsupported_media_type",
        "Content-Type",
        raw=b"prompt=a+fox",
        headers={"content-type": "application/x-www-form-urlencoded"},
    ),
    Bad(
        "no content type",
        415,
        "unsupported_media_type",
        "Content-Type",
        raw=json.dumps(video()).encode(),
        headers={"content-type": ""},
    ),
    Bad(
        "over 10 MB", 413, "request_too_large", None, raw=b'{"prompt": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    ),
    Bad("unknown field", 400, "unknown_field", "colour", body=video(colour="red")),
    Bad(
        "unknown field close to a known one",
        400,
        "unknown_field",
        "aspectRatio",
        body=video(aspectRatio="16:9"),
        message="did you mean aspect_ratio?",
    ),
    # ---- prompt
    Bad("no prompt", 400, "missing_field", "prompt", body={"duration": 2}),
    Bad("empty prompt", 400, "invalid_field", "prompt", body=video(prompt="")),
    Bad("blank prompt", 400, "invalid_prompt", "prompt", body=video(prompt=" \n\t ")),
    Bad("prompt too long", 400, "invalid_field", "prompt", body=video(prompt="x" * 4097)),
    Bad("prompt not a string", 400, "invalid_field", "prompt", body=video(prompt=42)),
    # ---- duration
    Bad("duration 0", 400, "invalid_field", "duration", body=video(duration=0)),
    Bad("duration 16", 400, "invalid_field", "duration", body=video(duration=16)),
    Bad("duration 5.5", 400, "invalid_field", "duration", body=video(duration=5.5)),
    Bad("duration 5.0", 400, "invalid_field", "duration", body=video(duration=5.0)),
    Bad("duration as string", 400, "invalid_field", "duration", body=video(duration="5")),
    Bad("duration true", 400, "invalid_field", "duration", body=video(duration=True)),
    # ---- model, resolution, aspect ratio
    Bad("unknown model", 400, "unknown_model", "model", body=video(model="grok-2-video")),
    Bad("resolution 4k", 400, "invalid_field", "resolution", body=video(resolution="4k")),
    Bad(
        "1080p on the default model",
        400,
        "unsupported_resolution",
        "resolution",
        body=video(resolution="1080p"),
    ),
    Bad(
        "1080p on a model without it",
        400,
        "unsupported_resolution",
        "resolution",
        body=video(model="grok-imagine-video", resolution="1080p"),
    ),
    Bad("aspect ratio 21:9", 400, "invalid_field", "aspect_ratio", body=video(aspect_ratio="21:9")),
    # ---- image
    Bad(
        "http image", 400, "invalid_image", "image.url", body=video(image={"url": "http://203.0.113.9/a.png"})
    ),
    Bad(
        "gif data URI",
        400,
        "invalid_image",
        "image.url",
        body=video(image={"url": "data:image/gif;base64,R0lGODlh"}),
    ),
    Bad(
        "data URI not base64",
        400,
        "invalid_image",
        "image.url",
        body=video(image={"url": "data:image/png;base64,#*!"}),
    ),
    Bad(
        "data URI of no image",
        400,
        "invalid_image",
        "image.url",
        body=video(image={"url": "data:image/png;base64," + base64.b64encode(b"not an image").decode()}),
        message="the data URI's bytes are not a PNG, JPEG or WEBP image",
    ),
    Bad(
        "data URI too large", 413, "image_too_large", "image.url", body=video(image={"url": TOO_LARGE_IMAGE})
    ),
    Bad("image without url or upload", 400, "invalid_image", "image", body=video(image={})),
    Bad(
        "image with url and upload",
        400,
        "invalid_image",
        "image",
        body=video(image={"url": f"data:image/png;base64,{PNG_1PX}", "upload_id": "upl_" + "0" * 26}),
    ),
    Bad(
        "malformed upload id",
        400,
        "invalid_field",
        "image.upload_id",
        body=video(image={"upload_id": "upl_x"}),
    ),
    Bad(
        "upload never made",
        400,
        "upload_not_found",
        "image.upload_id",
        body=video(image={"upload_id": "upl_" + "0" * 26}),
    ),
    Bad(
        "unknown image field",
        400,
        "unknown_field",
        "image.size",
        body=video(image={"url": f"data:image/png;base64,{PNG_1PX}", "size": 3}),
    ),
    # ---- reference images
    Bad("no reference images", 400, "invalid_field", "reference_images", body=video(reference_images=[])),
    Bad(
        "eight reference images",
        400,
        "invalid_field",
        "reference_images",
        body=video(provider="aimlapi", reference_images=[f"https://203.0.113.9/{i}.png" for i in range(8)]),
    ),
    Bad(
        "reference images with an image",
        400,
        "conflicting_inputs",
        "reference_images",
        body=video(
            provider="aimlapi",
            image={"url": "https://203.0.113.9/a.png"},
            reference_images=["https://203.0.113.9/b.png"],
        ),
    ),
    Bad(
        "reference images on a provider without them",
        400,
        "unsupported_by_provider",
        "reference_images",
        body=video(reference_images=["https://203.0.113.9/b.png"]),
        message="the sandbox is speaking the xai contract, which has no reference_images; run the local "
        "stack with a contract that has it (aimlapi): VIDEOHOOK_SANDBOX_CONTRACT=aimlapi make dev",
    ),
    Bad(
        "http reference image",
        400,
        "invalid_image",
        "reference_images.1",
        body=video(
            provider="aimlapi",
            reference_images=["https://203.0.113.9/a.png", "http://203.0.113.9/b.png"],
        ),
    ),
    # ---- metadata
    Bad("metadata not an object", 400, "invalid_field", "metadata", body=video(metadata=["order", 42])),
    Bad(
        "metadata too large", 400, "metadata_too_large", "metadata", body=video(metadata={"blob": "x" * 5000})
    ),
    Bad(
        "metadata with too many keys",
        400,
        "invalid_field",
        "metadata",
        body=video(metadata={f"k{i}": i for i in range(33)}),
    ),
    Bad(
        "metadata too deep",
        400,
        "metadata_too_deep",
        "metadata",
        body=video(metadata={"a": {"b": {"c": {"d": {"e": 1}}}}}),
    ),
    # ---- webhook_url
    Bad(
        "http webhook off loopback",
        400,
        "invalid_webhook_url",
        "webhook_url",
        body=video(webhook_url="http://203.0.113.9/hook"),
    ),
    Bad(
        "webhook to a private address",
        400,
        "invalid_webhook_url",
        "webhook_url",
        body=video(webhook_url="https://10.0.0.5/hook"),
    ),
    Bad(
        "webhook to the metadata service",
        400,
        "invalid_webhook_url",
        "webhook_url",
        body=video(webhook_url="https://169.254.169.254/latest"),
    ),
    Bad(
        "ftp webhook",
        400,
        "invalid_webhook_url",
        "webhook_url",
        body=video(webhook_url="ftp://203.0.113.9/x"),
    ),
    # ---- provider, user, Idempotency-Key
    Bad("unknown provider", 400, "invalid_field", "provider", body=video(provider="midjourney")),
    Bad("provider without a key", 400, "provider_not_configured", "provider", body=video(provider="xai")),
    Bad("user too long", 400, "invalid_field", "user", body=video(user="u" * 257)),
    Bad(
        "Idempotency-Key too long",
        400,
        "invalid_field",
        "Idempotency-Key",
        body=video(),
        headers={"Idempotency-Key": "k" * 256},
    ),
    Bad(
        "Idempotency-Key with a control character",
        400,
        "invalid_field",
        "Idempotency-Key",
        body=video(),
        headers={"Idempotency-Key": "order\x0142"},
    ),
    # ---- list
    Bad("limit 0", 400, "invalid_field", "limit", method="GET", params={"limit": "0"}),
    Bad("limit 101", 400, "invalid_field", "limit", method="GET", params={"limit": "101"}),
    Bad("limit not a number", 400, "invalid_field", "limit", method="GET", params={"limit": "ten"}),
    Bad("unknown status", 400, "invalid_field", "status", method="GET", params={"status": "done"}),
    Bad("garbage cursor", 400, "invalid_cursor", "cursor", method="GET", params={"cursor": "not-a-cursor"}),
    Bad(
        "forged cursor",
        400,
        "invalid_cursor",
        "cursor",
        method="GET",
        params={"cursor": cursor({"id": "../../etc", "t": "yesterday"})},
    ),
    # ---- one job
    Bad("id too long", 400, "invalid_field", "id", method="GET", path="/v1/videos/" + "v" * 65),
    Bad(
        "unknown job", 404, "not_found", "id", method="GET", path="/v1/videos/vid_01jzzzzzzzzzzzzzzzzzzzzzzz"
    ),
    Bad(
        "cancel an unknown job",
        404,
        "not_found",
        "id",
        path="/v1/videos/vid_01jzzzzzzzzzzzzzzzzzzzzzzz/cancel",
    ),
    # ---- uploads
    bad_upload(
        "upload of a gif", "invalid_field", "content_type", {"content_type": "image/gif", "bytes": 10}
    ),
    bad_upload("upload of 0 bytes", "invalid_field", "bytes", {"content_type": "image/png", "bytes": 0}),
    bad_upload(
        "upload over the cap",
        "invalid_field",
        "bytes",
        {"content_type": "image/png", "bytes": MAX_UPLOAD_BYTES + 1},
    ),
    bad_upload(
        "upload size as string", "invalid_field", "bytes", {"content_type": "image/png", "bytes": "10"}
    ),
    bad_upload("upload without a size", "missing_field", "bytes", {"content_type": "image/png"}),
    Bad(
        "upload as text/plain",
        415,
        "unsupported_media_type",
        "Content-Type",
        path="/v1/uploads",
        raw=b'{"content_type": "image/png", "bytes": 10}',
        headers={"content-type": "text/plain"},
    ),
    # ---- API Gateway's own answers
    Bad("unknown route", 404, "not_found", None, method="GET", path="/v1/nothing-here"),
    Bad("unsupported method", 404, "not_found", None, method="DELETE", path="/v1/videos"),
    Bad("no API key", 403, "forbidden", None, body=video(), api_key=None),
    Bad("unknown API key", 403, "forbidden", None, body=video(), api_key="vh_not_a_key"),
]


def provider_calls(local_stack: Any) -> dict[str, int]:
    """The sandbox's counters of create requests (polls of other tests' jobs go on meanwhile)."""
    stats = local_stack.sandbox.stats
    return {name: stats[name] for name in ("submissions", "accepted", "refused")}


def _tenant_job_count(local_stack: Any) -> int:
    table = boto3.resource("dynamodb").Table(local_stack.environment["VIDEOHOOK_JOBS_TABLE"])
    return table.query(
        IndexName="by_tenant",
        KeyConditionExpression=Key("tenant_id").eq(tenant_id_for(API_KEY)),
        Select="COUNT",
    )["Count"]


def test_the_table_covers_every_rule() -> None:
    assert len(BAD) >= 40
    assert len({case.name for case in BAD}) == len(BAD)
    assert {case.status for case in BAD} >= {400, 403, 404, 413, 415}


@pytest.mark.parametrize("case", BAD, ids=[case.name for case in BAD])
def test_bad_request_is_refused_and_changes_nothing(local_stack: Any, case: Bad) -> None:
    import httpx

    jobs_before, calls_before = _tenant_job_count(local_stack), provider_calls(local_stack)
    headers = {**JSON_HEADERS, **case.headers}
    if case.api_key is not None:
        headers["x-api-key"] = case.api_key
    headers = {name: value for name, value in headers.items() if value}
    content = (
        case.raw
        if case.raw is not None
        else (json.dumps(case.body).encode() if case.body is not None else None)
    )
    with httpx.Client(base_url=local_stack.url, timeout=60) as client:
        answer = client.request(case.method, case.path, content=content, headers=headers, params=case.params)

    assert answer.status_code == case.status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    error = answer.json()["error"]
    assert (error["code"], error.get("field")) == (case.code, case.field), error
    assert error["message"]
    assert case.message is None or case.message in error["message"], error["message"]
    assert _tenant_job_count(local_stack) == jobs_before
    assert provider_calls(local_stack) == calls_before


def test_a_refused_loopback_webhook_names_its_setting(local_stack, api, stack_settings) -> None:
    stack_settings(VIDEOHOOK_ALLOW_LOOPBACK_WEBHOOKS="0")  # as in the cloud
    calls_before = provider_calls(local_stack)
    answer = api.post("/v1/videos", json=video(webhook_url="http://127.0.0.1:9/hook"))
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert (error["code"], error["field"]) == ("invalid_webhook_url", "webhook_url")
    assert "VIDEOHOOK_ALLOW_LOOPBACK_WEBHOOKS=1" in error["message"]
    assert provider_calls(local_stack) == calls_before
