"""Waiting for a job's webhook at a loopback receiver (tests/e2e/conftest.py's `receiver`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from standardwebhooks import Webhook

from devstack.receiver import WebhookReceiver

WEBHOOK_TIMEOUT = 60


def is_terminal(event_type: str) -> bool:
    return event_type not in ("video.queued", "video.running")


def wait_for_webhook(
    receiver: WebhookReceiver,
    secret: str,
    job_id: str,
    wanted: Callable[[str], bool] = is_terminal,
    timeout: float = WEBHOOK_TIMEOUT,
) -> dict[str, Any]:
    """The first webhook of `job_id` whose type `wanted` accepts (by default its terminal one),
    verified with `secret`: `{"event": ..., "headers": ...}`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        delivery = receiver.next(timeout=0.5)
        if delivery is None:
            continue
        headers, body = delivery
        event = Webhook(secret).verify(body, headers)
        if event["data"]["id"] == job_id and wanted(event["type"]):
            return {"event": event, "headers": headers}
    raise AssertionError(f"no such webhook for {job_id} within {timeout} s")
