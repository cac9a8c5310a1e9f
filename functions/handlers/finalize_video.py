"""State `FinalizeVideo`: copy the provider's video into S3 and mark the job succeeded."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser import event_parser

from videohook import workflow_steps
from videohook.models import PollResult
from videohook.runtime import get_runtime

logger = Logger(service="videohook")


@logger.inject_lambda_context
@event_parser(model=PollResult)
def handler(event: PollResult, context: Any) -> dict[str, Any]:
    return workflow_steps.finalize_job(get_runtime(), event.job_id).model_dump(mode="json")
