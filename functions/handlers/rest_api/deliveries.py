"""Routes of a job's webhook deliveries: the attempt log, and redelivering the terminal event."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from handlers.rest_api import request_context
from handlers.rest_api.errors import JSON
from handlers.rest_api.openapi import JOB_ID, responses, secured
from videohook.runtime import get_runtime
from videohook.webhook_models import Redelivery, WebhookAttemptList

router = Router()


@router.get(
    "/v1/videos/<id>/deliveries",
    **secured(
        "The job's webhook delivery log",
        responses(200, WebhookAttemptList, "The attempts, oldest first", 400, 404),
        operation_id="listDeliveries",
        description=(
            "Every attempt to deliver the job's events to its webhook_url: time, status, latency, error."
        ),
    ),
)
def list_deliveries(id: JOB_ID) -> Response[WebhookAttemptList]:  # noqa: A002 - the path parameter's name
    from videohook import job_events  # for cold start: botocore and the delivery code come with it

    attempts = job_events.delivery_log(get_runtime(), id, tenant_id=request_context.tenant_id())
    return Response(status_code=200, content_type=JSON, body=WebhookAttemptList(data=attempts))


@router.post(
    "/v1/videos/<id>/redeliver",
    **secured(
        "Send a finished job's event again",
        responses(202, Redelivery, "Accepted: the event is being delivered", 400, 404, 409),
        operation_id="redeliverVideo",
        description=(
            "Delivers the job's terminal event to its webhook_url again, with the same `webhook-id`, "
            "on the full retry schedule. A job that has not finished, or has no webhook_url, answers 409."
        ),
    ),
)
def redeliver_video(id: JOB_ID) -> Response[Redelivery]:  # noqa: A002 - the path parameter's name
    from videohook import job_events  # for cold start: botocore and the delivery code come with it

    redelivery = job_events.redeliver(get_runtime(), id, tenant_id=request_context.tenant_id())
    return Response(status_code=202, content_type=JSON, body=redelivery)
