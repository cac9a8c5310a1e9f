"""The API's OpenAPI document, generated from the routes and models (docs/openapi.json is a copy),
and what the routes declare for it: error answers, security, shared parameters, operation ids."""

from __future__ import annotations

import json
from typing import Annotated, Any, get_args

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Path

from handlers.rest_api.errors import JSON
from videohook.models import ErrorResponse, EventType
from videohook.webhook_models import WebhookEvent

REF = "#/components/schemas/"
API_VERSION = "1.0.0"
SECURITY_SCHEME = "apiKey"
SECURED = [{SECURITY_SCHEME: []}]
JOB_ID = Annotated[str, Path(min_length=1, max_length=64, description="The job's id (vid_...)")]
# Error statuses and what they mean, for the OpenAPI document.
ERROR_DESCRIPTIONS = {
    400: "Bad request: a field, parameter or header is invalid (`error.field` names it)",
    403: "No valid `x-api-key` (answered by API Gateway)",
    404: "No such job for this API key, or no such route",
    409: "Conflict with the job's state, or with a request still in progress",
    413: "Payload too large",
    415: "The body must be `application/json`",
    422: "The Idempotency-Key was already used with a different body",
    429: "Throttled, or the API key's daily quota is used up (answered by API Gateway)",
    502: "The provider refused videohook's credentials, or the request could not reach the API",
    503: "The provider is unavailable or not configured; retry later",
}
# The base URL the document names when it is not served by an API (docs/openapi.json): the local
# stack of `make dev` (devstack.stack.DEFAULT_PORT; tests/unit/test_devstack_openapi.py checks it).
LOCAL_BASE_URL = "http://127.0.0.1:8787"
SERVERS_NOTE = (
    "`servers` names the base URL this document was served from (GET /v1/openapi.json of a "
    f"deployment names that deployment); the repository's copy, docs/openapi.json, names `make dev`'s "
    f"local stack, {LOCAL_BASE_URL}: give a generated client your API's base URL."
)
# The Standard Webhooks headers every webhook POST carries (docs/webhooks.md verifies them).
WEBHOOK_HEADERS = {
    "webhook-id": "The event's id: the same for every attempt and redelivery of one event",
    "webhook-timestamp": "Unix seconds when this attempt was signed",
    "webhook-signature": "`v1,<base64 HMAC-SHA256>` of `<id>.<timestamp>.<body>` with the whsec_ secret",
}
_documents: dict[str, dict[str, Any]] = {}


def responses(status: int, model: type, description: str, *errors: int) -> dict[int, dict[str, Any]]:
    """A route's answers: its own, and the error answers it can give (403 and 429 always)."""
    answers = {status: {"description": description, "content": {JSON: {"model": model}}}}
    for code in sorted({403, 429, *errors}):
        answers[code] = {"description": ERROR_DESCRIPTIONS[code], "content": {JSON: {"model": ErrorResponse}}}
    return answers


def secured(
    summary: str,
    answers: dict[int, dict[str, Any]],
    *,
    operation_id: str,
    description: str | None = None,
    tag: str = "videos",
) -> dict[str, Any]:
    """The OpenAPI keywords of a route that takes an API key, for its Powertools decorator:
    `@router.get(path, **secured(summary, responses(...), operation_id="getVideo", description=...))`.
    `operation_id` names the call in generated clients (camelCase, verb first)."""
    return {
        "operation_id": operation_id,
        "summary": summary,
        "description": description,
        "tags": [tag],
        "security": SECURED,
        "responses": answers,
    }


def document_of(resolver: APIGatewayRestResolver, base_url: str | None = None) -> dict[str, Any]:
    """The document of a resolver that includes every route, naming `base_url` (default: the local
    stack's) as its server; built once per process (every instance's resolver has the same routes)."""
    if API_VERSION not in _documents:
        _documents[API_VERSION] = _build(resolver)
    url = base_url or LOCAL_BASE_URL
    description = "This API" if base_url else "`make dev`'s local stack (a deployment names its own)"
    return {**_documents[API_VERSION], "servers": [{"url": url, "description": description}]}


def base_url_of(event: dict[str, Any]) -> str | None:
    """The API's base URL as the caller reached it, from an API Gateway proxy event: the scheme
    (X-Forwarded-Proto, which API Gateway sets) and host, then the request's path up to the
    route's resource (the stage, or a custom domain's base path). None without a host."""
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    context = event.get("requestContext") or {}
    host = headers.get("host") or context.get("domainName")
    if not host:
        return None
    scheme = headers.get("x-forwarded-proto", "https").split(",")[0].strip()
    path, resource = context.get("path") or event.get("path") or "", event.get("resource") or ""
    prefix = path[: -len(resource)] if resource and path.endswith(resource) else ""
    return f"{scheme}://{host}{prefix.rstrip('/')}"


def webhooks() -> dict[str, Any]:
    """The OpenAPI 3.1 `webhooks`: one per event type, each a signed POST of a WebhookEvent."""
    answers = {
        "2XX": {"description": "Delivered"},
        "410": {"description": "Gone: videohook stops sending events to this URL"},
        "default": {"description": "Retried later (Retry-After is honoured), then dead-lettered"},
    }
    headers = [
        {"name": name, "in": "header", "required": True, "description": text, "schema": {"type": "string"}}
        for name, text in WEBHOOK_HEADERS.items()
    ]
    return {
        event_type: {
            "post": {
                "operationId": "on" + "".join(part.title() for part in event_type.split(".")),
                "summary": f"The {event_type} event, POSTed to the job's webhook_url",
                "tags": ["webhooks"],
                "parameters": headers,
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": {"$ref": f"{REF}{WebhookEvent.__name__}"}}},
                },
                "responses": answers,
            }
        }
        for event_type in get_args(EventType)
    }


def _build(resolver: APIGatewayRestResolver) -> dict[str, Any]:
    # Imported here for cold start: Powertools' OpenAPI models take longer to build than the rest.
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, Server

    document = json.loads(
        resolver.get_openapi_json_schema(
            title="videohook",
            version=API_VERSION,
            summary="Webhook-style wrapper around asynchronous video generation APIs",
            description=(
                "Submit a prompt (and optionally a first frame); videohook runs the provider's job, "
                "stores the video in S3 and tells you with a signed webhook (Standard Webhooks, "
                "described under `webhooks`), an SNS message and this API. Every API key is a tenant: "
                'it sees only its own jobs. Every error is `{"error": {"code", "message", "field"}}`. '
                "Request bodies are limited to 10 MB by API Gateway and about 6 MB by Lambda: send "
                f"larger first frames through POST /v1/uploads. {SERVERS_NOTE}"
            ),
            # Replaced per answer by document_of: the base URL the document is served from.
            servers=[Server(url=LOCAL_BASE_URL)],
            security_schemes={
                SECURITY_SCHEME: APIKey(
                    name="x-api-key", in_=APIKeyIn.header, description="Your API key (one per tenant)"
                )
            },
        )
    )
    # The webhook events, with their body's schema (and the schemas it refers to) from the model.
    document["webhooks"] = webhooks()
    event_schema = WebhookEvent.model_json_schema(ref_template=REF + "{model}")
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in {**event_schema.pop("$defs", {}), WebhookEvent.__name__: event_schema}.items():
        schemas.setdefault(name, schema)
    # Powertools documents its own 422 validation error; this API answers those 400 ErrorResponse.
    for path in document["paths"].values():
        for operation in path.values():
            if "HTTPValidationError" in json.dumps(operation["responses"].get("422", {})):
                del operation["responses"]["422"]
    # ...and adds component schemas nothing refers to.
    schemas = document.get("components", {}).get("schemas", {})
    while unused := [name for name in schemas if f'"{REF}{name}"' not in json.dumps(document)]:
        for name in unused:
            del schemas[name]
    return document
