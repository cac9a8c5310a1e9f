"""The state machine's steps: poll the provider, store the video, record failures."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from videohook import completion_forecast, completion_times, telemetry, wait_policy
from videohook.job_events import emit_event
from videohook.job_store import JobAlreadyTerminal
from videohook.models import Job, JobError, JobStatus, VideoArtifact, utc_now
from videohook.runtime import ProviderNotConfigured, Runtime
from videohook.workflow_payloads import FinalizeResult, PollResult, VideoTransfer, WorkflowInput

if TYPE_CHECKING:
    from videohook.providers.base import ProviderJobState

logger = Logger(service="videohook")

# A provider that answers non-JSON or unknown shapes this many polls in a row has failed the job.
MAX_CONSECUTIVE_POLL_ERRORS = 10


def _save(runtime: Runtime, job: Job, *, touch: bool = True) -> None:
    """Write the job back. `updated_at` moves only when the job changed as callers see it
    (`touch`), or became terminal: a poll that learned nothing leaves it, so it also tells
    the poll policy how long the progress has not moved."""
    if touch or job.status.is_terminal:
        job.updated_at = utc_now()
    if job.status.is_terminal and job.completed_at is None:
        job.completed_at = job.updated_at
    runtime.store.update(job)


def _visible(job: Job) -> tuple[object, ...]:
    """What a poll may change of the job as callers (and the poll policy) see it. Not the
    forecast (`estimated_done_at`): it moves at every poll, `updated_at` only with these."""
    return job.status, job.progress, job.error, job.provider_video_url, job.provider_queued


def poll_job(runtime: Runtime, job_input: WorkflowInput) -> tuple[PollResult, Job]:
    """Ask the provider once and choose the next wait: the step's result, and the job as saved."""
    # Imported here: the provider adapters (and httpx) are for the poll step only (cold start).
    from videohook.providers.base import (
        ProviderAuthError,
        ProviderMalformed,
        ProviderRejected,
        ProviderTransient,
    )

    job = runtime.store.get(job_input.job_id)
    telemetry.bind_job(job.id)
    if job.status.is_terminal:
        return PollResult(job_id=job.id, status=job.status, wait_seconds=0), job
    now = utc_now()
    if now >= job.deadline_at:
        job.status = JobStatus.EXPIRED
        job.error = JobError(code="deadline_exceeded", message="the job did not finish before its deadline")
        return _result_after_save(runtime, job, 0)

    # What the record says before this poll, in provider seconds since submit.
    scale = runtime.settings.time_scale
    elapsed = (now - job.created_at).total_seconds() / scale
    status_before = job.status
    before = _visible(job)
    record = completion_forecast.BeforePoll(
        previous_elapsed=None if job.poll_count == 0 else max(0.0, elapsed - job_input.wait_seconds),
        queued=job.provider_queued,
        changed_elapsed=(job.updated_at - job.created_at).total_seconds() / scale,
        progress=job.progress,
    )

    retry_after: float | None = None
    observed: ProviderJobState | None = None
    job.poll_count += 1
    try:
        with telemetry.provider_request(job.provider, "poll", job_id=job.id):
            state = runtime.adapter(job.provider).poll(job.provider_request_id or "")
    except ProviderTransient as error:
        retry_after = error.retry_after
        job.consecutive_poll_errors += 1
        if isinstance(error, ProviderMalformed):
            job.consecutive_malformed_polls += 1
        if job.consecutive_malformed_polls >= MAX_CONSECUTIVE_POLL_ERRORS:
            job.status = JobStatus.FAILED
            job.error = JobError(code=error.code, message=error.message)
        logger.warning("provider poll failed", extra={"code": error.code, "status_code": error.status_code})
    except (ProviderAuthError, ProviderRejected, ProviderNotConfigured) as error:
        job.status = JobStatus.FAILED
        code = getattr(error, "code", "provider_not_configured")
        job.error = JobError(code=code, message=str(error))
    else:
        job.consecutive_poll_errors = job.consecutive_malformed_polls = 0
        observed = state
        _apply_state(job, state)

    kind = completion_times.job_kind(job.provider.value, job.model, job.resolution, job.duration)
    wait = 0
    if not job.status.is_terminal and not job.provider_video_url:
        plan = wait_policy.plan(
            record.observe(
                elapsed,
                progress=job.progress,
                queued=observed is not None and observed.status is JobStatus.QUEUED,
                duration=job.duration,
                resolution=job.resolution,
                history=runtime.history.stats(kind),
                retry_after=retry_after,
                consecutive_errors=job.consecutive_poll_errors,
                seconds_to_deadline=(job.deadline_at - now).total_seconds() / scale,
            )
        )
        wait = plan.wait_seconds
        # Published, not polled for: the caller's progress bar moves toward it between polls.
        job.estimated_done_at = job.created_at + timedelta(seconds=plan.done_seconds * scale)
    if observed is not None and observed.status is JobStatus.SUCCEEDED:
        seconds = completion_times.observed_completion_seconds(record.previous_elapsed, elapsed)
        _record_completion(runtime, kind, seconds)
    result, job = _result_after_save(runtime, job, wait, touch=_visible(job) != before)
    if status_before is JobStatus.QUEUED and result.status is JobStatus.RUNNING:
        # A record from before jobs ran from the provider's acceptance (submit announces
        # video.running now): its video.running comes at its first poll.
        emit_event(runtime, job)
    return result, job


def _record_completion(runtime: Runtime, kind: str, seconds: float) -> None:
    """Feed the kind's completion-time history; a failure here must not fail the poll."""
    try:
        runtime.history.record(kind, seconds)
    except Exception:  # noqa: BLE001 - the history only tunes future polling
        logger.warning("could not record the completion time", exc_info=True)


def _apply_state(job: Job, state: ProviderJobState) -> None:
    if state.progress is not None:
        job.progress = max(job.progress, min(100, state.progress))
    job.provider_queued = state.status is JobStatus.QUEUED
    if state.status is JobStatus.SUCCEEDED:
        # Not succeeded until the copy to S3 is done: finalize decides.
        job.status = JobStatus.RUNNING
        job.provider_video_url = state.video_url
        job.progress = 100
        return
    # Accepted by the provider, a job runs: its queue is part of its run (`provider_queued`).
    job.status = JobStatus.RUNNING if state.status is JobStatus.QUEUED else state.status
    if state.error is not None:
        job.error = state.error
    elif state.status is JobStatus.FAILED:
        job.error = JobError(code="provider_failed", message="the provider reported a failure")
    elif state.status is JobStatus.EXPIRED:
        job.error = JobError(code="provider_expired", message="the provider expired the job")


def _result_after_save(
    runtime: Runtime, job: Job, wait: int, *, touch: bool = True
) -> tuple[PollResult, Job]:
    """Save the job; its poll result and the job as stored (another step's, if it ended first)."""
    try:
        _save(runtime, job, touch=touch)
    except JobAlreadyTerminal:
        job = runtime.store.get(job.id)
    status = job.status
    if status is JobStatus.RUNNING and job.provider_video_url:
        status = JobStatus.SUCCEEDED  # ready to finalize
    return PollResult(job_id=job.id, status=status, wait_seconds=wait), job


def finalize_job(runtime: Runtime, job_id: str) -> tuple[FinalizeResult, Job]:
    """Store the provider's video in the bucket, then mark the job succeeded: the step's
    result (with how the video got there, `transfer`, when this attempt stored it) and the
    job as saved.

    If the provider already uploaded it (the presigned `output.upload_url` given at
    submit, to the job's incoming key), it is verified (size, MP4 header, SHA-256 computed
    by S3) and moved to the video key server side: no video byte goes through here.
    Otherwise, or if that object is missing or unusable, it is copied from the provider's
    URL. Transient copy errors propagate so that the state machine retries this step; a
    job is never succeeded unless the full, verified object is in S3.
    """
    # Here, not at module level: only FinalizeVideo copies (botocore's exceptions, cold start).
    from videohook.copy_errors import VideoCopyError
    from videohook.s3_copier import copy_url_to_s3
    from videohook.uploaded_video import move_uploaded_video, verify_uploaded_video

    job = runtime.store.get(job_id)
    telemetry.bind_job(job.id)
    if job.status.is_terminal:
        return FinalizeResult(job_id=job.id, status=job.status), job
    bucket, key = runtime.settings.video_bucket, runtime.video_key(job.tenant_id, job.id)
    started = time.monotonic()
    try:
        # An earlier attempt of this step may have stored it: then a retry copies nothing.
        stored = verify_uploaded_video(bucket=bucket, key=key, s3_client=runtime.s3)
        if stored is None:
            incoming = runtime.incoming_video_key(job.tenant_id, job.id)
            stored = move_uploaded_video(bucket=bucket, source_key=incoming, key=key, s3_client=runtime.s3)
        if stored is None:
            stored = copy_url_to_s3(
                source_url=job.provider_video_url or "", bucket=bucket, key=key, s3_client=runtime.s3
            )
    except VideoCopyError as error:
        if error.retryable:
            raise  # the state machine retries FinalizeVideo, then RecordFailure records it
        job.status = JobStatus.FAILED
        job.error = JobError(code=error.code, message=str(error))
        _, job = _result_after_save(runtime, job, 0)
        return FinalizeResult(job_id=job.id, status=JobStatus.FAILED), job
    transfer = VideoTransfer(
        kind=stored.transfer,
        bytes=stored.bytes,
        bytes_copied=stored.bytes_copied,
        bytes_read_to_verify=stored.bytes_read_to_verify,
        seconds=time.monotonic() - started,
    )
    job.status = JobStatus.SUCCEEDED
    job.progress = 100
    job.video = VideoArtifact(
        s3_uri=f"s3://{stored.bucket}/{stored.key}",
        bytes=stored.bytes,
        sha256=stored.sha256,
        content_type=stored.content_type,
    )
    result, job = _result_after_save(runtime, job, 0)
    logger.info(
        "video stored",
        extra={
            "bytes": stored.bytes,
            "transfer": stored.transfer,
            "bytes_through_lambda": stored.bytes_copied,
            "bytes_read_to_verify": stored.bytes_read_to_verify,
        },
    )
    return FinalizeResult(job_id=job.id, status=result.status, transfer=transfer), job


_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def _error_code(error_name: str) -> str:
    """A retried-out copy error keeps its own code; other names become snake case.

    `States.Timeout` -> `workflow_timeout`, `Lambda.ServiceException` -> `lambda_service_exception`,
    `JSONDecodeError` -> `json_decode_error`.
    """
    from videohook import copy_errors  # here, not at module level: RecordFailure only (cold start)

    error_class = getattr(copy_errors, error_name, None)
    if isinstance(error_class, type) and issubclass(error_class, copy_errors.VideoCopyError):
        return error_class.code
    if error_name.startswith("States."):
        error_name = "Workflow." + error_name.removeprefix("States.")
    words = [_WORD_BOUNDARY.sub("_", part) for part in error_name.split(".") if part]
    return "_".join(words).lower() or "internal_error"


def fail_job(runtime: Runtime, job_id: str, error: dict[str, Any]) -> tuple[FinalizeResult, Job]:
    """Record a step's uncaught error (from a Catch) as the job's failure: the step's result
    and the job as saved."""
    job = runtime.store.get(job_id)
    if job.status.is_terminal:
        return FinalizeResult(job_id=job.id, status=job.status), job
    name = str(error.get("Error") or "InternalError")
    message = "the workflow failed"
    try:
        message = json.loads(error.get("Cause") or "{}").get("errorMessage") or message
    except (TypeError, ValueError, AttributeError):
        message = str(error.get("Cause") or message)
    job.status = JobStatus.FAILED
    job.error = JobError(code=_error_code(name), message=message[:500])
    result, job = _result_after_save(runtime, job, 0)
    return FinalizeResult(job_id=job.id, status=result.status), job
