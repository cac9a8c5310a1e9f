"""State `FinalizeVideo`: copy the provider's video into S3 and mark the job succeeded."""

from __future__ import annotations

import time
from typing import Any

from videohook import telemetry, workflow_steps
from videohook.models import PollResult, utc_now
from videohook.runtime import get_runtime


@telemetry.instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    polled = PollResult.model_validate(event)
    runtime = get_runtime()
    since, started = utc_now(), time.monotonic()
    result = workflow_steps.finalize_job(runtime, polled.job_id)
    seconds = time.monotonic() - started
    job = telemetry.record_outcome(runtime, result.job_id, result.status, since=since)
    if job is not None and job.video is not None:
        # The step's duration is the copy's, give or take one read and one write of the job.
        # workflow_steps keeps how the video got there: a copy, or the provider's own upload.
        stored = getattr(workflow_steps, "RECENT_TRANSFERS", {}).get(job.id)
        size = job.video.bytes if stored is None else stored.bytes_copied
        transfer = "copy" if stored is None else stored.transfer
        telemetry.video_copied(job.id, size=size, seconds=seconds, transfer=transfer)
    telemetry.logger.info(
        "job finalized", extra={"status": result.status.value, "seconds": round(seconds, 3)}
    )
    return result.model_dump(mode="json")
