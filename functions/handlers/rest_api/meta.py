"""Route of the API's own description: the OpenAPI document."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from handlers.rest_api import request_context
from handlers.rest_api.errors import JSON
from handlers.rest_api.openapi import base_url_of, document_of

router = Router()


@router.get(
    "/v1/openapi.json",
    operation_id="getOpenApiDocument",
    summary="This OpenAPI document",
    tags=["meta"],
    responses={200: {"description": "The OpenAPI 3.1 document, naming the base URL it was served from"}},
)
def openapi_json() -> Response[dict[str, Any]]:
    resolver = request_context.resolver()
    document = document_of(resolver, base_url=base_url_of(resolver.current_event.raw_event))
    return Response(status_code=200, content_type=JSON, body=document)
