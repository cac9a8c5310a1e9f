"""handlers.rest_api.errors: the one table of error answers (status, body, headers) of every DomainError,
and the answer to an unknown field (the closest known field of the route's model)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devstack.lambda_bridge import LambdaContext
from handlers import api
from handlers.rest_api import errors as api_errors
from videohook import errors
from videohook.models import CreateUploadRequest, CreateVideoRequest


@pytest.mark.parametrize(
    ("error", "status", "headers"),
    [
        (errors.InvalidInput("c", "m", field="f"), 400, {}),
        (errors.ProviderRefused("c", "m"), 400, {}),
        (errors.NotFound("c", "m", field="id"), 404, {}),
        (errors.Conflict("c", "m"), 409, {}),
        (errors.IdempotencyInProgress("c", "m", retry_after=1), 409, {"Retry-After": "1"}),
        (errors.IdempotencyKeyReused("c", "m"), 422, {}),
        (errors.ProviderAuthFailed("c", "m"), 502, {}),
        (errors.ProviderUnavailable("c", "m", retry_after=2.5), 503, {"Retry-After": "3"}),
        (errors.ProviderUnavailable("c", "m"), 503, {}),
        (errors.ProviderNotConfigured("c", "m", field="provider"), 503, {}),
    ],
)
def test_every_domain_error_has_its_status(error: errors.DomainError, status: int, headers: dict) -> None:
    response = api_errors.answer_domain_error(error)
    assert response.status_code == status
    assert response.body == {"error": {"code": "c", "message": "m", "field": error.field}}
    assert api_errors.headers_of(error) == headers


def test_every_domain_error_class_is_in_the_table() -> None:
    classes = {
        value
        for value in vars(errors).values()
        if isinstance(value, type)
        and issubclass(value, errors.DomainError)
        and value is not errors.DomainError
    }
    assert classes == set(api_errors.STATUS)


# ---- an unknown field: the closest known one ---------------------------------------------


@pytest.mark.parametrize(
    ("model", "path", "known"),
    [
        (CreateVideoRequest, ["aspectRatio"], "aspect_ratio"),
        (CreateVideoRequest, ["webhook-url"], "webhook_url"),
        (CreateVideoRequest, ["durration"], "duration"),
        (CreateVideoRequest, ["image", "uploadId"], "upload_id"),
        (CreateVideoRequest, ["colour"], None),
        (CreateVideoRequest, ["image", "size"], None),
        (CreateVideoRequest, ["nothing", "here"], None),
        (CreateUploadRequest, ["contentType"], "content_type"),
        (None, ["aspectRatio"], None),
    ],
)
def test_closest_field(model: type | None, path: list[str], known: str | None) -> None:
    assert api_errors.closest_field(model, path) == known


def _post(path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    event = {
        "resource": path,
        "path": path,
        "httpMethod": "POST",
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
        "isBase64Encoded": False,
        "requestContext": {"path": path, "identity": {"apiKeyId": "key_t", "sourceIp": "127.0.0.1"}},
    }
    result = api.new_instance()(event, LambdaContext(function_name="videohook-api"))
    return result["statusCode"], json.loads(result["body"])["error"]


@pytest.mark.parametrize(
    ("path", "body", "field", "message"),
    [
        (
            "/v1/videos",
            {"prompt": "A fox.", "aspectRatio": "16:9"},
            "aspectRatio",
            "aspectRatio: Extra inputs are not permitted; did you mean aspect_ratio?",
        ),
        (
            "/v1/videos",
            {"prompt": "A fox.", "image": {"uploadId": "upl_x"}},
            "image.uploadId",
            "image.uploadId: Extra inputs are not permitted; did you mean image.upload_id?",
        ),
        ("/v1/videos", {"prompt": "A fox.", "colour": 1}, "colour", "colour: Extra inputs are not permitted"),
        (  # the route's own model: content_type is a field of uploads, not of videos
            "/v1/videos",
            {"prompt": "A fox.", "contentType": "image/png"},
            "contentType",
            "contentType: Extra inputs are not permitted",
        ),
        (
            "/v1/uploads",
            {"contentType": "image/png", "content_type": "image/png", "bytes": 10},
            "contentType",
            "contentType: Extra inputs are not permitted; did you mean content_type?",
        ),
    ],
)
def test_an_unknown_field_suggests_the_closest_known_one(
    monkeypatch: pytest.MonkeyPatch, path: str, body: dict[str, Any], field: str, message: str
) -> None:
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    status, error = _post(path, body)
    assert (status, error) == (400, {"code": "unknown_field", "message": message, "field": field})
