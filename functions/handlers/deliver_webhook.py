"""State `DeliverWebhook`: one signed POST; a failure is retried by the state machine."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser import event_parser

from videohook import notifications
from videohook.models import PublishedEvent
from videohook.runtime import get_runtime

logger = Logger(service="videohook")


@logger.inject_lambda_context
@event_parser(model=PublishedEvent)
def handler(event: PublishedEvent, context: Any) -> dict[str, Any]:
    return notifications.deliver_event(get_runtime(), event.job_id, event.event_id, event.event)
