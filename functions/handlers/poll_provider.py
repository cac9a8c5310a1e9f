"""State `PollProvider`: ask the provider once and choose the next wait."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser import event_parser

from videohook import workflow_steps
from videohook.models import WorkflowInput
from videohook.runtime import get_runtime

logger = Logger(service="videohook")


@logger.inject_lambda_context
@event_parser(model=WorkflowInput)
def handler(event: WorkflowInput, context: Any) -> dict[str, Any]:
    return workflow_steps.poll_job(get_runtime(), event).model_dump(mode="json")
