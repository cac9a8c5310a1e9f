"""Telling the caller: every job event goes to SNS, to EventBridge, and to the webhook.

The webhook is delivered by the delivery state machine (one execution per event,
named after the event id), so an event's retries all carry one `webhook-id`.
"""

from __future__ import annotations

import json
from typing import Any

from videohook import telemetry
from videohook.errors import Conflict
from videohook.job_reads import job_not_found
from videohook.job_store import JobNotFound
from videohook.models import Job, JobStatus, utc_now
from videohook.public_view import public_job
from videohook.runtime import Runtime
from videohook.webhook_delivery import DeliveryRequest
from videohook.webhook_models import Redelivery, WebhookAttempt, WebhookEvent

logger = telemetry.logger

EVENT_TYPES = {
    JobStatus.QUEUED: "video.queued",
    JobStatus.RUNNING: "video.running",
    JobStatus.SUCCEEDED: "video.succeeded",
    JobStatus.FAILED: "video.failed",
    JobStatus.EXPIRED: "video.expired",
    JobStatus.CANCELED: "video.canceled",
}
EVENT_SOURCE = "videohook"


def event_id_for(job: Job) -> str:
    """Stable per job and event type, so every retry and redelivery of one event has one webhook-id."""
    return f"evt_{job.id.removeprefix('vid_')}_{job.status.value}"


def wants_webhook(job: Job, event_type: str) -> bool:
    """Terminal events always go out; a job's `webhook_events` filters the others."""
    if not job.webhook_url:
        return False
    if job.status.is_terminal:
        return True
    return job.webhook_events is None or event_type in job.webhook_events


def build_event(runtime: Runtime, job: Job) -> WebhookEvent:
    return WebhookEvent(
        type=EVENT_TYPES[job.status],
        timestamp=job.completed_at or job.updated_at,
        data=public_job(runtime, job).model_dump(mode="json"),
    )


def emit_event(runtime: Runtime, job: Job) -> dict[str, Any]:
    """Publish the job's current event to SNS and EventBridge and start its webhook delivery."""
    settings = runtime.settings
    event = build_event(runtime, job)
    body = event.model_dump(mode="json")
    message = json.dumps(body)
    event_id = event_id_for(job)
    runtime.sns.publish(
        TopicArn=settings.topic_arn,
        Message=message,
        MessageAttributes={
            name: {"DataType": "String", "StringValue": value}
            for name, value in (
                ("type", event.type),
                ("status", job.status.value),
                ("provider", job.provider.value),
                ("tenant", job.tenant_id),
            )
        },
    )
    runtime.events.put_events(
        Entries=[
            {
                "Source": EVENT_SOURCE,
                "DetailType": event.type,
                "Detail": message,
                "EventBusName": settings.event_bus,
            }
        ]
    )
    if wants_webhook(job, event.type):
        start_delivery(runtime, DeliveryRequest(job_id=job.id, event_id=event_id, event=body), name=event_id)
    logger.info("event published", extra={"event_type": event.type, "event_id": event_id})
    return {"job_id": job.id, "event_id": event_id, "event": body}


def start_delivery(runtime: Runtime, request: DeliveryRequest, *, name: str) -> None:
    sfn = runtime.sfn
    try:
        sfn.start_execution(
            stateMachineArn=runtime.settings.delivery_state_machine_arn,
            name=name,
            input=request.model_dump_json(),
        )
    except sfn.exceptions.ExecutionAlreadyExists:
        # The same event was already handed over (a retried step): its delivery is under way.
        logger.info("delivery already started", extra={"event_id": request.event_id})


def publish_event(runtime: Runtime, job_id: str) -> dict[str, Any]:
    """State `PublishEvent`: the job's terminal event."""
    job = runtime.store.get(job_id)
    telemetry.bind_job(job.id)
    return emit_event(runtime, job)


def redeliver(runtime: Runtime, job_id: str, *, tenant_id: str) -> Redelivery:
    """Send a finished job's terminal event again, with its original webhook-id."""
    try:
        job = runtime.store.get_for_tenant(job_id, tenant_id)
    except JobNotFound as error:
        raise job_not_found(job_id) from error
    if not job.status.is_terminal:
        raise Conflict("job_not_finished", "only a finished job's event can be redelivered")
    if not job.webhook_url:
        raise Conflict("no_webhook_url", "the job has no webhook_url")
    event_id = event_id_for(job)
    body = build_event(runtime, job).model_dump(mode="json")
    name = f"{event_id}-re{int(utc_now().timestamp() * 1000)}"
    start_delivery(runtime, DeliveryRequest(job_id=job.id, event_id=event_id, event=body), name=name)
    return Redelivery(job_id=job.id, event_id=event_id, type=body["type"])


def delivery_log(runtime: Runtime, job_id: str, *, tenant_id: str) -> list[WebhookAttempt]:
    try:
        runtime.store.get_for_tenant(job_id, tenant_id)
    except JobNotFound as error:
        raise job_not_found(job_id) from error
    return runtime.deliveries.attempts(job_id)
