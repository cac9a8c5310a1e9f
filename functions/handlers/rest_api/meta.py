"""Route of the API's own description: the OpenAPI document."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from handlers.rest_api import request_context
from handlers.rest_api.errors import JSON
from handlers.rest_api.openapi import document_of

router = Router()


@router.get(
    "/v1/openapi.json",
    summary="This OpenAPI document",
    tags=["meta"],
    responses={200: {"description": "The OpenAPI 3.1 document"}},
)
def openapi_json() -> Response[dict[str, Any]]:
    return Response(status_code=200, content_type=JSON, body=document_of(request_context.resolver()))
