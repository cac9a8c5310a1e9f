"""State `RecordFailure`: a step's uncaught error becomes the job's failure."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser import event_parser

from videohook import workflow_steps
from videohook.models import TaskFailure
from videohook.runtime import get_runtime

logger = Logger(service="videohook")


@logger.inject_lambda_context
@event_parser(model=TaskFailure)
def handler(event: TaskFailure, context: Any) -> dict[str, Any]:
    return workflow_steps.fail_job(get_runtime(), event.job_id, event.error).model_dump(mode="json")
