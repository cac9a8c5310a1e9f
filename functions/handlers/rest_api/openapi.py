"""The API's OpenAPI document, generated from the routes and models (docs/openapi.json is a copy),
and what the routes declare for it: error answers, security, shared parameters."""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Path

from handlers.rest_api.errors import JSON
from videohook.models import ErrorResponse

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
_documents: dict[str, dict[str, Any]] = {}


def responses(status: int, model: type, description: str, *errors: int) -> dict[int, dict[str, Any]]:
    """A route's answers: its own, and the error answers it can give (403 and 429 always)."""
    answers = {status: {"description": description, "content": {JSON: {"model": model}}}}
    for code in sorted({403, 429, *errors}):
        answers[code] = {"description": ERROR_DESCRIPTIONS[code], "content": {JSON: {"model": ErrorResponse}}}
    return answers


def secured(
    summary: str, answers: dict[int, dict[str, Any]], *, description: str | None = None, tag: str = "videos"
) -> dict[str, Any]:
    """The OpenAPI keywords of a route that takes an API key, for its Powertools decorator:
    `@router.get(path, **secured(summary, responses(...), description=...))`."""
    return {
        "summary": summary,
        "description": description,
        "tags": [tag],
        "security": SECURED,
        "responses": answers,
    }


def document_of(resolver: APIGatewayRestResolver) -> dict[str, Any]:
    """The document of a resolver that includes every route; built once per process (every
    instance's resolver has the same routes)."""
    if API_VERSION not in _documents:
        _documents[API_VERSION] = _build(resolver)
    return _documents[API_VERSION]


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
                "stores the video in S3 and tells you with a signed webhook (Standard Webhooks), an "
                "SNS message and this API. Every API key is a tenant: it sees only its own jobs. "
                'Every error is `{"error": {"code", "message", "field"}}`. Request bodies are '
                "limited to 10 MB by API Gateway and about 6 MB by Lambda: send larger first frames "
                "through POST /v1/uploads."
            ),
            # Relative to this document (<base>/v1/openapi.json): the API's base URL, stage included.
            servers=[Server(url="../", description="the API's base URL")],
            security_schemes={
                SECURITY_SCHEME: APIKey(
                    name="x-api-key", in_=APIKeyIn.header, description="Your API key (one per tenant)"
                )
            },
        )
    )
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
