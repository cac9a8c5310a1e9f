"""Telling the caller: the job's event on SNS and as a signed webhook."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger

from videohook.models import (
    Job,
    JobStatus,
    WebhookEvent,
    utc_now,
)
from videohook.runtime import Runtime
from videohook.submission import public_job

logger = Logger(service="videohook")

EVENT_TYPES = {
    JobStatus.SUCCEEDED: "video.succeeded",
    JobStatus.FAILED: "video.failed",
    JobStatus.EXPIRED: "video.expired",
    JobStatus.CANCELED: "video.canceled",
    JobStatus.QUEUED: "video.queued",
    JobStatus.RUNNING: "video.running",
}


def event_id_for(job: Job) -> str:
    """Stable per job and event type, so every retry of one event carries one webhook-id."""
    return f"evt_{job.id.removeprefix('vid_')}_{job.status.value}"


def publish_event(runtime: Runtime, job_id: str) -> dict[str, Any]:
    """Publish the job's current event to SNS; return it for the webhook step."""
    job = runtime.store.get(job_id)
    logger.append_keys(job_id=job.id)
    event = WebhookEvent(
        type=EVENT_TYPES[job.status],
        timestamp=job.completed_at or utc_now(),
        data=public_job(runtime, job).model_dump(mode="json"),
    )
    body = event.model_dump(mode="json")
    runtime.sns.publish(
        TopicArn=runtime.settings.topic_arn,
        Message=json.dumps(body),
        MessageAttributes={
            "type": {"DataType": "String", "StringValue": event.type},
            "status": {"DataType": "String", "StringValue": job.status.value},
            "provider": {"DataType": "String", "StringValue": job.provider.value},
        },
    )
    return {"job_id": job.id, "event_id": event_id_for(job), "event": body}


class WebhookDeliveryFailed(Exception):
    """Raised so the state machine retries the delivery on its own schedule."""


def deliver_event(runtime: Runtime, job_id: str, event_id: str, event: dict[str, Any]) -> dict[str, Any]:
    from videohook.webhooks import WebhookUrlRejected, deliver_webhook, validate_webhook_url

    job = runtime.store.get(job_id)
    if not job.webhook_url:
        return {"job_id": job_id, "delivered": False, "skipped": "no webhook_url"}
    try:
        # Resolved again at every attempt: the answer at submit time may have changed.
        validate_webhook_url(job.webhook_url, allow_loopback=runtime.settings.allow_loopback_webhooks)
    except WebhookUrlRejected as error:
        return {"job_id": job_id, "delivered": False, "skipped": str(error)}
    attempt = deliver_webhook(
        url=job.webhook_url,
        event_id=event_id,
        body=json.dumps(event).encode(),
        secret=runtime.webhook_secret(),
        client=runtime.http,
    )
    if not attempt.delivered:
        logger.warning(
            "webhook not delivered", extra={"status_code": attempt.status_code, "error": attempt.error}
        )
        raise WebhookDeliveryFailed(f"webhook answered {attempt.status_code or attempt.error}")
    return {"job_id": job_id, "delivered": True, "status_code": attempt.status_code}
