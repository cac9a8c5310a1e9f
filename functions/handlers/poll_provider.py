"""State `PollProvider`: ask the provider once and choose the next wait."""

from __future__ import annotations

from typing import Any

from videohook import telemetry, workflow_steps
from videohook.models import JobStatus, utc_now
from videohook.runtime import get_runtime
from videohook.workflow_payloads import WorkflowInput


@telemetry.instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    workflow = WorkflowInput.model_validate(event)
    runtime = get_runtime()
    since = utc_now()
    result, job = workflow_steps.poll_job(runtime, workflow)
    if result.status is JobStatus.SUCCEEDED:
        # Ready to finalize: the video was finished at most one wait (the one before this poll) ago.
        telemetry.video_detected(
            result.job_id, lag_seconds=workflow.wait_seconds * runtime.settings.time_scale
        )
    telemetry.record_outcome(job, since=since)
    telemetry.logger.info(
        "job polled", extra={"status": result.status.value, "wait_seconds": result.wait_seconds}
    )
    return result.model_dump(mode="json")
