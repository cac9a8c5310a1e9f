"""API Gateway (REST, proxy) handler: routes, validation and the OpenAPI document, declared once.

Each route parses (Powertools validates against the pydantic models), calls one plain
function of `videohook.submission` and shapes the answer. Every error is
`{"error": {"code", "message", "field"}}`.

`videohook.submission` (and with it the provider adapters, httpx and botocore) and
`videohook.job_events` are imported by the routes that call them, not with this module:
that keeps the cold start lean.
"""

from __future__ import annotations

import base64
import json
import re
from functools import cache
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query

from videohook import telemetry
from videohook.errors import ApiError
from videohook.models import (
    CreateUploadRequest,
    CreateVideoRequest,
    ErrorResponse,
    JobList,
    JobStatus,
    JobView,
    Redelivery,
    UploadView,
    WebhookAttemptList,
)
from videohook.runtime import get_runtime

app = APIGatewayRestResolver(enable_validation=True)

JSON = "application/json"
REF = "#/components/schemas/"
API_VERSION = "1.0.0"
SECURITY_SCHEME = "apiKey"
SECURED = [{SECURITY_SCHEME: []}]
# Printable ASCII, no leading or trailing space (HTTP trims those).
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]([ -~]{0,253}[!-~])?$"
JOB_ID = Annotated[str, Path(min_length=1, max_length=64, description="The job's id (vid_...)")]
# `\ud800`-`\udfff` in JSON text: only valid in pairs, and text with a lone one cannot be stored.
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
# Routes whose body is JSON; anything else is answered 415 before it is parsed.
JSON_BODY_ROUTES = {("POST", "/v1/videos"), ("POST", "/v1/uploads")}
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


def _responses(status: int, model: type, description: str, *errors: int) -> dict[int, dict[str, Any]]:
    answers = {status: {"description": description, "content": {JSON: {"model": model}}}}
    for code in sorted({403, 429, *errors}):
        answers[code] = {"description": ERROR_DESCRIPTIONS[code], "content": {JSON: {"model": ErrorResponse}}}
    return answers


def _error(error: ApiError) -> Response:
    return Response(status_code=error.status, content_type=JSON, body=error.body(), headers=error.headers)


def _tenant_id() -> str:
    """Every API key is a tenant: API Gateway puts the key's id in the request context."""
    tenant = app.current_event.request_context.identity.api_key_id
    if not tenant:
        raise ApiError(403, "forbidden", "a valid x-api-key header is required")
    return tenant


@app.exception_handler(ApiError)
def handle_api_error(error: ApiError) -> Response:
    return _error(error)


_CUSTOM_CODES = {"invalid_image"}  # PydanticCustomError types raised by the models


@app.exception_handler(RequestValidationError)
def handle_validation_error(error: RequestValidationError) -> Response:
    from videohook.submission import IDEMPOTENCY_KEY_FIELD

    # Where a validation error points: body fields by dotted path, parameters and headers by name.
    location_names = {("header", "idempotency-key"): IDEMPOTENCY_KEY_FIELD}
    first: dict[str, Any] = error.errors()[0] if error.errors() else {}
    kind = first.get("type", "invalid")
    loc = [str(part) for part in first.get("loc", ())]
    where, parts = (loc[0], loc[1:]) if loc else ("body", [])
    field = location_names.get((where, ".".join(parts))) or ".".join(parts) or None
    if kind == "json_invalid":
        return _error(ApiError(400, "invalid_json", "the request body is not valid JSON"))
    if where == "body" and not parts:
        if kind == "missing":
            return _error(ApiError(400, "missing_body", "a JSON request body is required"))
        return _error(ApiError(400, "invalid_body", "the request body must be a JSON object"))
    codes = {"missing": "missing_field", "extra_forbidden": "unknown_field"}
    code = kind if kind in _CUSTOM_CODES else codes.get(kind, "invalid_field")
    message = first.get("msg", "invalid request")
    return _error(ApiError(400, code, f"{field}: {message}" if field else message, field=field))


@app.post(
    "/v1/videos",
    summary="Start a video job",
    description=(
        "Starts the provider's job and answers at once with the queued job. With an "
        "`Idempotency-Key` header, a retry with the same key and body (same API key) answers "
        "with the same job, without a second provider job, even after a failure half-way (the "
        "job is resumed); the same key with a different body answers 422. Keys are remembered "
        "for a day. An error answer means no provider job was started. If the provider never "
        "answered the submit, it is not sent again (that could bill twice): the answer is the "
        "job, already `failed` with `provider_submit_timeout`."
    ),
    tags=["videos"],
    security=SECURED,
    responses=_responses(202, JobView, "Accepted: the job", 400, 409, 413, 415, 422, 502, 503),
)
def create_video(
    request: CreateVideoRequest,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            pattern=IDEMPOTENCY_KEY_PATTERN,
            description="Makes retries safe: 1-255 printable ASCII characters of your choice",
        ),
    ] = None,
) -> Response[JobView]:
    from videohook import submission

    job = submission.create_job(
        get_runtime(),
        request,
        tenant_id=_tenant_id(),
        idempotency_key=idempotency_key,
        lambda_context=app.lambda_context,
    )
    return Response(status_code=202, content_type=JSON, body=job)


@app.get(
    "/v1/videos",
    summary="List your video jobs",
    description="Newest first, one page at a time: pass `next_cursor` as `cursor` until it is null.",
    tags=["videos"],
    security=SECURED,
    responses=_responses(200, JobList, "One page of jobs", 400),
)
def list_videos(
    status: Annotated[JobStatus | None, Query(description="Only jobs in this status")] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size")] = 20,
    cursor: Annotated[
        str | None, Query(min_length=1, max_length=512, description="`next_cursor` of the previous page")
    ] = None,
) -> Response[JobList]:
    from videohook import submission

    runtime, tenant_id = get_runtime(), _tenant_id()
    page = submission.list_jobs(runtime, tenant_id=tenant_id, limit=limit, status=status, cursor=cursor)
    return Response(status_code=200, content_type=JSON, body=page)


@app.get(
    "/v1/videos/<id>",
    summary="Get a video job",
    tags=["videos"],
    security=SECURED,
    responses=_responses(200, JobView, "The job", 400, 404),
)
def get_video(id: JOB_ID) -> Response[JobView]:  # noqa: A002 - the path parameter's name
    from videohook import submission

    job = submission.get_job(get_runtime(), id, tenant_id=_tenant_id())
    return Response(status_code=200, content_type=JSON, body=job)


@app.post(
    "/v1/videos/<id>/cancel",
    summary="Cancel a video job",
    description=(
        "Stops the job's workflow and marks it `canceled`; the `video.canceled` event follows "
        "(webhook and SNS). A job that has already ended answers 409 `job_finished`."
    ),
    tags=["videos"],
    security=SECURED,
    responses=_responses(200, JobView, "The canceled job", 400, 404, 409),
)
def cancel_video(id: JOB_ID) -> Response[JobView]:  # noqa: A002 - the path parameter's name
    from videohook import submission

    job = submission.cancel_job(get_runtime(), id, tenant_id=_tenant_id())
    return Response(status_code=200, content_type=JSON, body=job)


@app.get(
    "/v1/videos/<id>/deliveries",
    summary="The job's webhook delivery log",
    description="Every attempt to deliver the job's events to its webhook_url: time, status, latency, error.",
    tags=["videos"],
    security=SECURED,
    responses=_responses(200, WebhookAttemptList, "The attempts, oldest first", 400, 404),
)
def list_deliveries(id: JOB_ID) -> Response[WebhookAttemptList]:  # noqa: A002 - the path parameter's name
    from videohook import job_events

    attempts = job_events.delivery_log(get_runtime(), id, tenant_id=_tenant_id())
    return Response(status_code=200, content_type=JSON, body=WebhookAttemptList(data=attempts))


@app.post(
    "/v1/videos/<id>/redeliver",
    summary="Send a finished job's event again",
    description=(
        "Delivers the job's terminal event to its webhook_url again, with the same `webhook-id`, "
        "on the full retry schedule. A job that has not finished, or has no webhook_url, answers 409."
    ),
    tags=["videos"],
    security=SECURED,
    responses=_responses(202, Redelivery, "Accepted: the event is being delivered", 400, 404, 409),
)
def redeliver_video(id: JOB_ID) -> Response[Redelivery]:  # noqa: A002 - the path parameter's name
    from videohook import job_events

    redelivery = job_events.redeliver(get_runtime(), id, tenant_id=_tenant_id())
    return Response(status_code=202, content_type=JSON, body=redelivery)


@app.post(
    "/v1/uploads",
    summary="Upload a large image",
    description=(
        "For first frames too large for a data URI: PUT the image to `upload_url` with `headers`, "
        'then create the job with `"image": {"upload_id": ...}`. Uploads expire after a day.'
    ),
    tags=["uploads"],
    security=SECURED,
    responses=_responses(201, UploadView, "Created: where to PUT the image", 400, 413, 415),
)
def create_upload(request: CreateUploadRequest) -> Response[UploadView]:
    from videohook import submission

    upload = submission.create_upload(get_runtime(), request, tenant_id=_tenant_id())
    return Response(status_code=201, content_type=JSON, body=upload)


@app.get(
    "/v1/openapi.json",
    summary="This OpenAPI document",
    tags=["meta"],
    responses={200: {"description": "The OpenAPI 3.1 document"}},
)
def openapi_json() -> Response[dict[str, Any]]:
    return Response(status_code=200, content_type=JSON, body=openapi_document())


@app.not_found
def not_found(_: Exception) -> Response:
    return _error(ApiError(404, "not_found", "no such route"))


@cache
def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI document, generated from the routes and models (docs/openapi.json is a copy)."""
    # Imported here: Powertools' OpenAPI models take longer to build than the rest of the handler.
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, Server

    document = json.loads(
        app.get_openapi_json_schema(
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


def _body_problem(event: dict[str, Any]) -> ApiError | None:
    """What Powertools would parse too leniently: a JSON route's body must be declared
    application/json, be UTF-8 and be a JSON object (Powertools would unwrap `[{...}]`)."""
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    media_type = (headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if media_type != JSON:
        return ApiError(
            415, "unsupported_media_type", "send the body as application/json", field="Content-Type"
        )
    text = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            text = base64.b64decode(text).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return ApiError(400, "invalid_json", "the request body is not UTF-8 JSON")
    if text.lstrip()[:1] in ("", "{") and not _ESCAPED_SURROGATE.search(text):
        return None  # the usual case: Powertools parses and validates it
    try:
        value = json.loads(text)
    except ValueError:
        return None  # Powertools answers invalid_json
    if value is None:
        return None  # ... and missing_body
    if not isinstance(value, dict):
        return ApiError(400, "invalid_body", "the request body must be a JSON object")
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return ApiError(400, "invalid_body", "the request body holds an unpaired UTF-16 surrogate")
    return None


def _refuse_before_parsing(event: dict[str, Any]) -> dict[str, Any] | None:
    route = (event.get("httpMethod"), event.get("resource") or event.get("path"))
    error = _body_problem(event) if route in JSON_BODY_ROUTES else None
    if error is None:
        return None
    return {
        "statusCode": error.status,
        "headers": {"Content-Type": JSON},
        "body": json.dumps(error.body()),
        "isBase64Encoded": False,
    }


@telemetry.instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _refuse_before_parsing(event) or app.resolve(event, context)
