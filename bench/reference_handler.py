"""The cold-start benchmark's reference: a Lambda handler built the usual Powertools way.

As aws-lambda-handler-cookbook builds one: Powertools' APIGatewayRestResolver with
validation on, a Powertools Logger around the handler, one pydantic model, one route;
nothing else (no AWS client, no tracer, no metrics). `make bench` imports it and invokes it
once with the api's sample event (events/api_create_video.json) in the same fresh
interpreters as the handlers (bench/cold_start.py): the route validates the body into the
model and answers 201.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from pydantic import BaseModel, Field

logger = Logger(service="reference")
app = APIGatewayRestResolver(enable_validation=True)


class CreateVideo(BaseModel):
    prompt: str = Field(min_length=1, max_length=4096)
    duration: int | None = Field(default=None, ge=1, le=15)
    resolution: str | None = None


@app.post("/v1/videos")
def create_video(request: CreateVideo) -> tuple[dict[str, Any], int]:
    return {"status": "queued", "prompt": request.prompt}, 201


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
