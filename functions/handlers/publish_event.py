"""State `PublishEvent`: publish the job's event (SNS, EventBridge) and start its webhook delivery."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser

from videohook import notifications, telemetry
from videohook.models import FinalizeResult
from videohook.runtime import get_runtime


@telemetry.instrument
@event_parser(model=FinalizeResult)
def handler(event: FinalizeResult, context: Any) -> dict[str, Any]:
    return notifications.publish_event(get_runtime(), event.job_id)
