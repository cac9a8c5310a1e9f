"""Pydantic models of webhooks: the event every webhook and SNS message carries, and the
delivery records the API shows (GET /v1/videos/{id}/deliveries, POST .../redeliver)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from videohook.models import EventType, JobView, Model


class WebhookEvent(Model):
    """Body of every webhook and SNS message (the OpenAPI document's `webhooks` describe it)."""

    type: EventType
    timestamp: datetime = Field(description="When the job reached this state")
    data: JobView = Field(description="The job, as GET /v1/videos/{id} answers it")


class WebhookAttempt(Model):
    """One webhook delivery attempt, as GET /v1/videos/{id}/deliveries shows it."""

    event_id: str
    event_type: str
    attempt: int
    attempted_at: str
    status_code: int | None = None
    latency_ms: int = 0
    error: str | None = None
    delivered: bool = False


class WebhookAttemptList(Model):
    data: list[WebhookAttempt]


class Redelivery(Model):
    """A terminal event handed to delivery again, with its original webhook-id."""

    job_id: str
    event_id: str
    type: EventType
    status: Literal["scheduled"] = "scheduled"
