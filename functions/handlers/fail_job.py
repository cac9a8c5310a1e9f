"""State `RecordFailure`: a step's uncaught error becomes the job's failure."""

from __future__ import annotations

from typing import Any

from videohook import telemetry, workflow_steps
from videohook.models import utc_now
from videohook.runtime import get_runtime
from videohook.workflow_payloads import TaskFailure


@telemetry.instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failure = TaskFailure.model_validate(event)
    since = utc_now()
    result, job = workflow_steps.fail_job(get_runtime(), failure.job_id, failure.error)
    telemetry.record_outcome(job, since=since)
    telemetry.logger.info(
        "failure recorded", extra={"status": result.status.value, "error": failure.error.get("Error")}
    )
    return result.model_dump(mode="json", exclude_none=True)
