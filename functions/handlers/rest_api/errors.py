"""Every error answer of the API, in one place: each domain error's status, and the body
`{"error": {"code", "message", "field"}}` (with Retry-After where the error carries a wait)."""

from __future__ import annotations

import difflib
import json
from typing import Any, get_args

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from pydantic import BaseModel
from pydantic_core.core_schema import ErrorType

from videohook import errors
from videohook.models import IDEMPOTENCY_KEY_HEADER
from videohook.request_rules import IMAGE_TOO_LARGE

JSON = "application/json"

STATUS: dict[type[errors.DomainError], int] = {
    errors.InvalidInput: 400,
    errors.ProviderRefused: 400,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.IdempotencyInProgress: 409,
    errors.IdempotencyKeyReused: 422,
    errors.ProviderAuthFailed: 502,
    errors.ProviderUnavailable: 503,
    errors.ProviderNotConfigured: 503,
}
# Request rules of the models (PydanticCustomError types) answered with another status than 400.
VALIDATION_STATUS = {IMAGE_TOO_LARGE: 413}
# pydantic's own error types; any other type is a rule of the models, and is the error's code.
_PYDANTIC_TYPES = frozenset(get_args(ErrorType))
_PYDANTIC_CODES = {"missing": "missing_field", "extra_forbidden": "unknown_field"}
# Where a validation error points: body fields by dotted path, parameters and headers by name.
_LOCATION_NAMES = {("header", "idempotency-key"): IDEMPOTENCY_KEY_HEADER}


class MissingApiKey(Exception):
    """No API key id in the request context (API Gateway answers keyless requests itself)."""


def body(code: str, message: str, field: str | None = None) -> dict[str, dict[str, str | None]]:
    return {"error": {"code": code, "message": message, "field": field}}


def error_response(
    status: int, code: str, message: str, field: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    return Response(status_code=status, content_type=JSON, body=body(code, message, field), headers=headers)


def proxy_error(status: int, code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """An error answer in API Gateway's proxy format, for refusals before the resolver runs."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": JSON},
        "body": json.dumps(body(code, message, field)),
        "isBase64Encoded": False,
    }


def status_of(error: errors.DomainError) -> int:
    return next(STATUS[kind] for kind in type(error).__mro__ if kind in STATUS)


def headers_of(error: errors.DomainError) -> dict[str, str]:
    retry_after = getattr(error, "retry_after", None)
    if not retry_after:
        return {}
    return {"Retry-After": str(int(retry_after + 0.999))}  # whole seconds, rounded up


def answer_domain_error(error: errors.DomainError) -> Response:
    return error_response(status_of(error), error.code, error.message, error.field, headers_of(error))


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    """The models a field's type holds (`ImageInput | None` -> [ImageInput])."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _nested_models(arg)]


def closest_field(body_model: type[BaseModel] | None, path: list[str]) -> str | None:
    """The known field of `body_model` nearest to the unknown last part of `path` (`aspectRatio` ->
    `aspect_ratio`), or None if no field is close: its siblings are the fields of the model
    `path[:-1]` leads to."""
    model = body_model
    for name in path[:-1]:
        field = model.model_fields.get(name) if model else None
        model = next(iter(_nested_models(field.annotation)), None) if field else None
    if model is None or not path:
        return None

    def key(name: str) -> str:  # camelCase, kebab-case and snake_case spell the same key
        return name.lower().replace("_", "").replace("-", "")

    known = {key(name): name for name in model.model_fields}
    matches = difflib.get_close_matches(key(path[-1]), list(known), n=1)
    return known[matches[0]] if matches else None


def answer_validation_error(
    error: RequestValidationError, body_model: type[BaseModel] | None = None
) -> Response:
    """The answer to a request Powertools found invalid; `body_model` (the route's body model)
    lets an unknown field's message name the closest known one."""
    first: dict[str, Any] = error.errors()[0] if error.errors() else {}
    kind = first.get("type", "invalid")
    loc = [str(part) for part in first.get("loc", ())]
    where, parts = (loc[0], loc[1:]) if loc else ("body", [])
    field = _LOCATION_NAMES.get((where, ".".join(parts))) or ".".join(parts) or None
    message = first.get("msg", "invalid request")
    if kind == "json_invalid":
        return error_response(400, "invalid_json", "the request body is not valid JSON")
    if where == "body" and not parts:
        if kind == "missing":
            return error_response(400, "missing_body", "a JSON request body is required")
        return error_response(400, "invalid_body", "the request body must be a JSON object")
    if kind not in _PYDANTIC_TYPES:  # a rule of the models: its type is the code, its message complete
        return error_response(VALIDATION_STATUS.get(kind, 400), kind, message, field)
    code = _PYDANTIC_CODES.get(kind, "invalid_field")
    if kind == "extra_forbidden" and where == "body" and (known := closest_field(body_model, parts)):
        message = f"{message}; did you mean {'.'.join([*parts[:-1], known])}?"
    return error_response(400, code, f"{field}: {message}" if field else message, field)


def answer_missing_api_key(_: MissingApiKey) -> Response:
    return error_response(403, "forbidden", "a valid x-api-key header is required")


def answer_no_route(_: Exception) -> Response:
    return error_response(404, "not_found", "no such route")


def register(resolver: APIGatewayRestResolver) -> None:
    """Answer every error of `resolver` from this table."""
    resolver.exception_handler(errors.DomainError)(answer_domain_error)

    @resolver.exception_handler(RequestValidationError)
    def answer_invalid_request(error: RequestValidationError) -> Response:
        # The route being answered: Powertools keeps it in the resolver's context (as its own
        # validation middleware reads it) until the answer is sent.
        route = resolver.context.get("_route")
        body_field = route.body_field if route is not None else None
        body_model = body_field.field_info.annotation if body_field is not None else None
        return answer_validation_error(error, body_model if isinstance(body_model, type) else None)

    resolver.exception_handler(MissingApiKey)(answer_missing_api_key)
    resolver.not_found(answer_no_route)
