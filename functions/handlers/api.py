"""API Gateway (REST, proxy) handler: routes, validation and the OpenAPI document, declared once."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path

from videohook import submission
from videohook.errors import ApiError
from videohook.models import CreateVideoRequest, ErrorResponse, JobView
from videohook.runtime import get_runtime

logger = Logger(service="videohook")
app = APIGatewayRestResolver(enable_validation=True)

JSON = "application/json"


def _error(error: ApiError) -> Response:
    return Response(status_code=error.status, content_type=JSON, body=error.body(), headers=error.headers)


def _tenant_id() -> str:
    """Every API key is a tenant: API Gateway puts the key's id in the request context."""
    tenant = app.current_event.request_context.identity.api_key_id
    if not tenant:
        raise ApiError(401, "unauthorized", "a valid x-api-key header is required")
    return tenant


@app.exception_handler(ApiError)
def handle_api_error(error: ApiError) -> Response:
    return _error(error)


@app.exception_handler(RequestValidationError)
def handle_validation_error(error: RequestValidationError) -> Response:
    first: dict[str, Any] = error.errors()[0] if error.errors() else {}
    kind = first.get("type", "invalid")
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "path", "query")]
    field = ".".join(location) or None
    if kind == "json_invalid":
        return _error(ApiError(400, "invalid_json", "the request body is not valid JSON"))
    if kind == "missing" and not location:
        return _error(ApiError(400, "missing_body", "a JSON request body is required"))
    codes = {"missing": "missing_field", "extra_forbidden": "unknown_field"}
    message = first.get("msg", "invalid request")
    return _error(
        ApiError(
            400, codes.get(kind, "invalid_field"), f"{field}: {message}" if field else message, field=field
        )
    )


@app.post(
    "/v1/videos",
    summary="Start a video job",
    responses={
        202: {"description": "Accepted", "content": {JSON: {"model": JobView}}},
        400: {"description": "Bad request", "content": {JSON: {"model": ErrorResponse}}},
    },
)
def create_video(request: CreateVideoRequest) -> Response[JobView]:
    runtime = get_runtime()
    job = submission.submit_job(runtime, request, tenant_id=_tenant_id())
    return Response(status_code=202, content_type=JSON, body=submission.public_job(runtime, job))


@app.get(
    "/v1/videos/<job_id>",
    summary="Get a video job",
    responses={
        200: {"description": "The job", "content": {JSON: {"model": JobView}}},
        404: {"description": "Not found", "content": {JSON: {"model": ErrorResponse}}},
    },
)
def get_video(job_id: Annotated[str, Path(min_length=1, max_length=64)]) -> Response[JobView]:
    return Response(
        status_code=200,
        content_type=JSON,
        body=submission.get_job(get_runtime(), job_id, tenant_id=_tenant_id()),
    )


@app.get("/v1/openapi.json", include_in_schema=False)
def openapi_document() -> Response[dict[str, Any]]:
    return Response(status_code=200, content_type=JSON, body=app.get_openapi_json_schema(title="videohook"))


@app.not_found
def not_found(_: Exception) -> Response:
    return _error(ApiError(404, "not_found", "no such route"))


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
