"""State `PublishEvent`: publish the job's event to SNS and hand it to the webhook step."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser import event_parser

from videohook import notifications
from videohook.models import FinalizeResult
from videohook.runtime import get_runtime

logger = Logger(service="videohook")


@logger.inject_lambda_context
@event_parser(model=FinalizeResult)
def handler(event: FinalizeResult, context: Any) -> dict[str, Any]:
    return notifications.publish_event(get_runtime(), event.job_id)
