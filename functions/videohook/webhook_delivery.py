"""Webhook delivery: one attempt at a time, the retry schedule, the attempt log, the DLQ.

The delivery state machine calls `attempt_delivery` and waits `wait_seconds`
between attempts, so no Lambda ever sleeps through a retry. The schedule is
the Standard Webhooks recommendation (about three days), with jitter, and a
receiver's `Retry-After` is honoured.
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from videohook import telemetry
from videohook.models import Model, utc_now
from videohook.webhook_models import WebhookAttempt

logger = telemetry.logger

# Seconds to wait before attempt 1, 2, ...: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h.
SCHEDULE_SECONDS = (0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
JITTER = 0.1  # each wait is drawn from +-10% of the schedule's
MAX_RETRY_AFTER_SECONDS = 86400
WEBHOOK_TIMEOUT_SECONDS = 15.0
# Under a local time scale the webhook timeout shrinks too, but never below this.
MIN_WEBHOOK_TIMEOUT_SECONDS = 0.5
ATTEMPT_RETENTION = timedelta(days=30)

Outcome = Literal["retry", "delivered", "gone", "exhausted", "skipped"]


class DeliveryRequest(Model):
    """Input of the delivery state machine and of each attempt."""

    job_id: str
    event_id: str
    event: dict[str, Any]
    attempt: int = Field(default=0, ge=0)


class DeliveryStep(DeliveryRequest):
    """Output of one attempt: the Choice state branches on `outcome`."""

    outcome: Outcome
    wait_seconds: int = Field(default=0, ge=0)


def next_wait_seconds(attempts_made: int, retry_after: float | None, rng: random.Random) -> int | None:
    """Seconds until the next attempt after `attempts_made` attempts; None when the schedule is done."""
    if attempts_made >= len(SCHEDULE_SECONDS):
        return None
    base = SCHEDULE_SECONDS[attempts_made]
    wait = base * rng.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None:
        wait = max(wait, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return max(1, round(wait))


def url_fingerprint(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:32]


class DeliveryLog:
    """The deliveries table: attempts under `pk = job id`, disabled URLs under `pk = tenant#<id>`."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def record(self, job_id: str, record: WebhookAttempt) -> None:
        item = {
            "pk": job_id,
            "sk": f"attempt#{record.attempted_at}#{record.event_id}#{record.attempt:03d}",
            "expires_at": int((utc_now() + ATTEMPT_RETENTION).timestamp()),
            **record.model_dump(exclude_none=True),
        }
        self._table.put_item(Item=item)

    def attempts(self, job_id: str) -> list[WebhookAttempt]:
        from boto3.dynamodb.conditions import Key  # not at module level: it would load boto3 at import

        records: list[WebhookAttempt] = []
        query: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(job_id) & Key("sk").begins_with("attempt#"),
            "ConsistentRead": True,
        }
        while True:
            page = self._table.query(**query)
            records.extend(
                WebhookAttempt.model_validate({k: _plain(v) for k, v in item.items()})
                for item in page["Items"]
            )
            if "LastEvaluatedKey" not in page:
                return records
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def disable_url(self, tenant_id: str, url: str, reason: str) -> None:
        self._table.put_item(
            Item={
                "pk": f"tenant#{tenant_id}",
                "sk": f"disabled#{url_fingerprint(url)}",
                "url": url,
                "reason": reason,
                "disabled_at": utc_now().isoformat(),
            }
        )

    def is_disabled(self, tenant_id: str, url: str) -> bool:
        key = {"pk": f"tenant#{tenant_id}", "sk": f"disabled#{url_fingerprint(url)}"}
        return "Item" in self._table.get_item(Key=key, ConsistentRead=True)


def _plain(value: Any) -> Any:
    return int(value) if isinstance(value, Decimal) else value


def attempt_delivery(
    runtime: Any, request: DeliveryRequest, *, rng: random.Random | None = None
) -> DeliveryStep:
    """Make one delivery attempt, log it, and decide what the state machine does next."""
    # Imported here for cold start: job_events imports this module for DeliveryRequest, and
    # the functions that only publish events need neither the URL check nor the sender.
    from videohook.webhook_post import deliver_webhook
    from videohook.webhook_urls import WebhookUrlRejected, validate_webhook_url

    rng = rng or random.Random()
    settings = runtime.settings
    job = runtime.store.get(request.job_id)
    telemetry.bind_job(job.id)
    logger.thread_safe_append_keys(event_id=request.event_id)
    if not job.webhook_url:
        return DeliveryStep(**request.model_dump(), outcome="skipped")
    log: DeliveryLog = runtime.deliveries
    if log.is_disabled(job.tenant_id, job.webhook_url):
        return DeliveryStep(**request.model_dump(), outcome="skipped")

    attempt_number = request.attempt + 1
    record = WebhookAttempt(
        event_id=request.event_id,
        event_type=str(request.event.get("type")),
        attempt=attempt_number,
        attempted_at=utc_now().isoformat(),
    )
    retry_after = None
    try:
        # Resolved and vetted at every attempt; the POST goes to the vetted address.
        target = validate_webhook_url(
            job.webhook_url,
            allow_loopback=settings.allow_loopback_webhooks,
            schemes=settings.allowed_webhook_schemes,
        )
    except WebhookUrlRejected as error:
        record.error = str(error)
    else:
        timeout = max(WEBHOOK_TIMEOUT_SECONDS * settings.time_scale, MIN_WEBHOOK_TIMEOUT_SECONDS)
        result = deliver_webhook(
            target=target,
            event_id=request.event_id,
            body=json.dumps(request.event).encode(),
            secret=runtime.webhook_secret(),
            client=runtime.http,
            timeout=min(timeout, WEBHOOK_TIMEOUT_SECONDS),
        )
        record.status_code, record.latency_ms = result.status_code, result.latency_ms
        record.error, record.delivered = result.error, result.delivered
        retry_after = result.retry_after
    log.record(job.id, record)
    telemetry.webhook_attempt(job.id, delivered=record.delivered, status_code=record.status_code)

    after = request.model_copy(update={"attempt": attempt_number}).model_dump()
    if record.delivered:
        return DeliveryStep(**after, outcome="delivered")
    if record.status_code == 410:
        # The receiver says the endpoint is gone for good: stop, and stop sending it anything.
        log.disable_url(job.tenant_id, job.webhook_url, "answered 410 Gone")
        logger.warning("webhook URL disabled after 410")
        return DeliveryStep(**after, outcome="gone")
    wait = next_wait_seconds(attempt_number, retry_after, rng)
    if wait is None:
        _dead_letter(runtime, request, log.attempts(job.id))
        return DeliveryStep(**after, outcome="exhausted")
    return DeliveryStep(**after, outcome="retry", wait_seconds=wait)


def _dead_letter(runtime: Any, request: DeliveryRequest, attempts: list[WebhookAttempt]) -> None:
    body = {
        "job_id": request.job_id,
        "event_id": request.event_id,
        "event": request.event,
        "attempts": [a.model_dump() for a in attempts if a.event_id == request.event_id],
    }
    runtime.sqs.send_message(QueueUrl=runtime.settings.webhook_dlq_url, MessageBody=json.dumps(body))
    telemetry.webhook_dead_lettered(request.job_id, request.event_id)
    logger.error("webhook delivery exhausted; event sent to the dead-letter queue")
