"""API Gateway (REST, proxy) handler: one resolver per Lambda instance, with the routes of
handlers.rest_api (videos, deliveries, uploads, meta) and its error answers (rest_api.errors).

Each route parses (Powertools validates against the pydantic models, which hold every
request rule that needs no runtime state), calls one plain function of videohook and
shapes the answer. Every error is `{"error": {"code", "message", "field"}}`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event import APIGatewayProxyEvent

from handlers.rest_api import deliveries, errors, meta, request_context, uploads, videos
from handlers.rest_api.body_checks import refuse_before_parsing
from handlers.rest_api.openapi import document_of
from videohook import telemetry

# In the order of the OpenAPI document.
ROUTERS = (videos.router, deliveries.router, uploads.router, meta.router)


def new_resolver() -> APIGatewayRestResolver:
    resolver = APIGatewayRestResolver(enable_validation=True)
    for router in ROUTERS:
        resolver.include_router(router)
    errors.register(resolver)
    return resolver


def new_instance() -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The handler of one Lambda instance, with its own resolver: one resolver answers one
    request at a time, so instances side by side (threads of one process) each need one.

    Powertools' resolve() also records the request in class attributes shared by every
    resolver (`BaseRouter.current_event`, `.lambda_context`), which a concurrent request
    overwrites. So the handler gives its resolver the request as its own attributes first
    (as Powertools' Router does when it delegates to its resolver), which every read through
    the resolver then finds, and the routes read the request through the resolver of this
    thread's request (`rest_api.request_context`), never through the shared Routers.
    """
    resolver = new_resolver()

    @telemetry.instrument
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        refusal = refuse_before_parsing(event)
        if refusal is not None:
            return refusal
        resolver.current_event = APIGatewayProxyEvent(event)
        resolver.lambda_context = context
        with request_context.answering(resolver):
            return resolver.resolve(event, context)

    return handler


handler = new_instance()


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI document (docs/openapi.json is a copy)."""
    return document_of(new_resolver())
