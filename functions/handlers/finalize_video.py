"""State `FinalizeVideo`: copy the provider's video into S3 and mark the job succeeded."""

from __future__ import annotations

from typing import Any

from videohook import telemetry, workflow_steps
from videohook.models import utc_now
from videohook.runtime import get_runtime
from videohook.workflow_payloads import PollResult


@telemetry.instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    polled = PollResult.model_validate(event)
    since = utc_now()
    result, job = workflow_steps.finalize_job(get_runtime(), polled.job_id)
    if telemetry.record_outcome(job, since=since) and result.transfer is not None:
        telemetry.video_copied(job.id, result.transfer)
    seconds = None if result.transfer is None else round(result.transfer.seconds, 3)
    telemetry.logger.info("job finalized", extra={"status": result.status.value, "seconds": seconds})
    # `transfer` only when this attempt stored the video (the state machine passes it on).
    return result.model_dump(mode="json", exclude_none=True)
