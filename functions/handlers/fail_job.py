"""State `RecordFailure`: a step's uncaught error becomes the job's failure."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser

from videohook import telemetry, workflow_steps
from videohook.models import TaskFailure, utc_now
from videohook.runtime import get_runtime


@telemetry.instrument
@event_parser(model=TaskFailure)
def handler(event: TaskFailure, context: Any) -> dict[str, Any]:
    runtime = get_runtime()
    since = utc_now()
    result = workflow_steps.fail_job(runtime, event.job_id, event.error)
    telemetry.record_outcome(runtime, result.job_id, result.status, since=since)
    telemetry.logger.info(
        "failure recorded", extra={"status": result.status.value, "error": event.error.get("Error")}
    )
    return result.model_dump(mode="json")
