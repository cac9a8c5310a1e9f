"""handlers.rest_api.openapi: the API's OpenAPI document says what the API does (its copy in docs/:
tests/unit/test_devstack_openapi.py)."""

from __future__ import annotations

import json
from typing import Any, get_args

import pytest

from handlers.api import new_resolver, openapi_document
from handlers.rest_api.openapi import LOCAL_BASE_URL, base_url_of, document_of
from videohook.models import EventType

ROUTES = {
    ("post", "/v1/videos"): "202",
    ("get", "/v1/videos"): "200",
    ("get", "/v1/videos/{id}"): "200",
    ("post", "/v1/videos/{id}/cancel"): "200",
    ("get", "/v1/videos/{id}/deliveries"): "200",
    ("post", "/v1/videos/{id}/redeliver"): "202",
    ("post", "/v1/uploads"): "201",
    ("get", "/v1/openapi.json"): "200",
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi_document()


def test_every_route_is_documented_with_its_success_model(document: dict[str, Any]) -> None:
    operations = {
        (method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    assert set(operations) == set(ROUTES)
    for route, status in ROUTES.items():
        assert status in operations[route]["responses"], route
        content = operations[route]["responses"][status].get("content", {})
        assert "application/json" in content, route


def test_error_answers_are_documented_with_the_error_model(document: dict[str, Any]) -> None:
    expected = {
        ("post", "/v1/videos"): {"400", "403", "409", "413", "415", "422", "429", "502", "503"},
        ("get", "/v1/videos"): {"400", "403", "429"},
        ("get", "/v1/videos/{id}"): {"400", "403", "404", "429"},
        ("post", "/v1/videos/{id}/cancel"): {"400", "403", "404", "409", "429"},
        ("get", "/v1/videos/{id}/deliveries"): {"400", "403", "404", "429"},
        ("post", "/v1/videos/{id}/redeliver"): {"400", "403", "404", "409", "429"},
        ("post", "/v1/uploads"): {"400", "403", "413", "415", "429"},
    }
    for (method, path), statuses in expected.items():
        responses = document["paths"][path][method]["responses"]
        errors = {status for status in responses if status.startswith(("4", "5"))}
        assert errors == statuses, (method, path)
        for status in statuses:
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (method, path, status)
    body = document["components"]["schemas"]["ErrorBody"]
    assert set(body["properties"]) == {"code", "message", "field"}
    assert set(body["required"]) == {"code", "message"}
    # Powertools' own validation error shape is never what this API answers.
    assert "HTTPValidationError" not in json.dumps(document)


def test_the_api_key_scheme_guards_every_route_but_the_document(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"] == {
        "apiKey": {
            "type": "apiKey",
            "in": "header",
            "name": "x-api-key",
            "description": "Your API key (one per tenant)",
        }
    }
    for path, item in document["paths"].items():
        for method, operation in item.items():
            expected = [] if path == "/v1/openapi.json" else [{"apiKey": []}]
            assert operation.get("security", []) == expected, (method, path)


def test_request_models_carry_their_limits(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    create = schemas["CreateVideoRequest"]
    assert create["additionalProperties"] is False and create["required"] == ["prompt"]
    props = create["properties"]
    assert (props["prompt"]["minLength"], props["prompt"]["maxLength"]) == (1, 4096)
    duration = props["duration"]["anyOf"][0]
    assert (duration["type"], duration["minimum"], duration["maximum"]) == ("integer", 1, 15)
    assert props["resolution"]["anyOf"][0]["enum"] == ["480p", "720p", "1080p"]
    assert len(props["aspect_ratio"]["anyOf"][0]["enum"]) == 7
    references = props["reference_images"]["anyOf"][0]
    assert (references["minItems"], references["maxItems"]) == (1, 7)
    assert props["metadata"]["anyOf"][0]["maxProperties"] == 32
    image = schemas["ImageInput"]
    assert image["additionalProperties"] is False
    assert [branch["required"] for branch in image["oneOf"]] == [["url"], ["upload_id"]]
    upload = schemas["CreateUploadRequest"]
    assert upload["properties"]["content_type"]["enum"] == ["image/png", "image/jpeg", "image/webp"]
    assert upload["properties"]["bytes"]["maximum"] == 20 * 1024 * 1024
    (key,) = document["paths"]["/v1/videos"]["post"]["parameters"]
    assert key["in"] == "header" and key["name"].lower() == "idempotency-key"
    assert key["schema"]["anyOf"][0]["maxLength"] == 255
    listing = {param["name"]: param for param in document["paths"]["/v1/videos"]["get"]["parameters"]}
    assert set(listing) == {"status", "limit", "cursor"}
    assert (listing["limit"]["schema"]["minimum"], listing["limit"]["schema"]["maximum"]) == (1, 100)
    assert listing["limit"]["schema"]["default"] == 20


def test_the_document_validates_as_openapi_3_1(document: dict[str, Any]) -> None:
    from openapi_spec_validator import OpenAPIV31SpecValidator

    assert document["openapi"].startswith("3.1")
    OpenAPIV31SpecValidator(document).validate()


def test_every_operation_has_a_readable_operation_id(document: dict[str, Any]) -> None:
    ids = {
        (method, path): operation.get("operationId")
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    assert ids == {
        ("post", "/v1/videos"): "createVideo",
        ("get", "/v1/videos"): "listVideos",
        ("get", "/v1/videos/{id}"): "getVideo",
        ("post", "/v1/videos/{id}/cancel"): "cancelVideo",
        ("get", "/v1/videos/{id}/deliveries"): "listDeliveries",
        ("post", "/v1/videos/{id}/redeliver"): "redeliverVideo",
        ("post", "/v1/uploads"): "createUpload",
        ("get", "/v1/openapi.json"): "getOpenApiDocument",
    }


def test_every_field_of_a_job_is_required(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for name in ("JobView", "VideoArtifact", "JobList"):
        assert schemas[name]["required"] == list(schemas[name]["properties"]), name
    assert {"id", "status", "progress", "created_at", "updated_at"} <= set(schemas["JobView"]["required"])


def test_the_webhooks_section_describes_every_event_with_its_body(document: dict[str, Any]) -> None:
    webhooks = document["webhooks"]
    assert set(webhooks) == set(get_args(EventType))
    for event_type, item in webhooks.items():
        post = item["post"]
        schema = post["requestBody"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/WebhookEvent"}, event_type
        headers = {param["name"] for param in post["parameters"] if param["in"] == "header"}
        assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}, event_type
    event = document["components"]["schemas"]["WebhookEvent"]
    assert event["required"] == ["type", "timestamp", "data"]
    assert event["properties"]["data"]["$ref"] == "#/components/schemas/JobView"
    assert event["properties"]["type"]["enum"] == list(get_args(EventType))


def test_the_server_is_the_base_url_the_document_is_served_from(document: dict[str, Any]) -> None:
    (server,) = document["servers"]
    assert server["url"] == LOCAL_BASE_URL and server["description"]
    served = document_of(new_resolver(), base_url="https://api.example.com/prod")
    assert served["servers"][0]["url"] == "https://api.example.com/prod"
    assert {**served, "servers": document["servers"]} == document


@pytest.mark.parametrize(
    ("event", "base_url"),
    [
        (  # execute-api: the stage before the resource
            {
                "resource": "/v1/openapi.json",
                "path": "/v1/openapi.json",
                "headers": {"Host": "abc.execute-api.eu-west-1.amazonaws.com", "X-Forwarded-Proto": "https"},
                "requestContext": {"path": "/prod/v1/openapi.json", "stage": "prod"},
            },
            "https://abc.execute-api.eu-west-1.amazonaws.com/prod",
        ),
        (  # a custom domain mapped at its root
            {
                "resource": "/v1/openapi.json",
                "path": "/v1/openapi.json",
                "headers": {"host": "video.example.com", "x-forwarded-proto": "https"},
                "requestContext": {"path": "/v1/openapi.json", "stage": "prod"},
            },
            "https://video.example.com",
        ),
        (  # the local stack
            {
                "resource": "/v1/openapi.json",
                "path": "/v1/openapi.json",
                "headers": {"host": "127.0.0.1:8787", "x-forwarded-proto": "http"},
                "requestContext": {"path": "/v1/openapi.json", "stage": "local"},
            },
            "http://127.0.0.1:8787",
        ),
        ({"resource": "/v1/openapi.json", "path": "/v1/openapi.json", "headers": {}}, None),
    ],
)
def test_base_url_of_a_request(event: dict[str, Any], base_url: str | None) -> None:
    assert base_url_of(event) == base_url
