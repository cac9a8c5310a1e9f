"""The state machine's steps: poll the provider, store the video, record failures."""

from __future__ import annotations

import json
import re
from typing import Any

from aws_lambda_powertools import Logger

from videohook import polling
from videohook.job_store import JobAlreadyTerminal
from videohook.models import (
    FinalizeResult,
    Job,
    JobError,
    JobStatus,
    PollResult,
    VideoArtifact,
    WorkflowInput,
    utc_now,
)
from videohook.providers.base import (
    ProviderAuthError,
    ProviderJobState,
    ProviderMalformed,
    ProviderRejected,
    ProviderTransient,
)
from videohook.runtime import ProviderNotConfigured, Runtime

logger = Logger(service="videohook")

# A provider that answers non-JSON or unknown shapes this many polls in a row has failed the job.
MAX_CONSECUTIVE_POLL_ERRORS = 10


def _save(runtime: Runtime, job: Job) -> None:
    job.updated_at = utc_now()
    if job.status.is_terminal and job.completed_at is None:
        job.completed_at = job.updated_at
    runtime.store.update(job)


def poll_job(runtime: Runtime, job_input: WorkflowInput) -> PollResult:
    job = runtime.store.get(job_input.job_id)
    logger.append_keys(job_id=job.id)
    if job.status.is_terminal:
        return PollResult(job_id=job.id, status=job.status, wait_seconds=0)
    now = utc_now()
    if now >= job.deadline_at:
        job.status = JobStatus.EXPIRED
        job.error = JobError(code="deadline_exceeded", message="the job did not finish before its deadline")
        return _result_after_save(runtime, job, 0)

    retry_after: float | None = None
    job.poll_count += 1
    try:
        state = runtime.adapter(job.provider).poll(job.provider_request_id or "")
    except ProviderTransient as error:
        retry_after = error.retry_after
        job.consecutive_poll_errors += 1
        if (
            isinstance(error, ProviderMalformed)
            and job.consecutive_poll_errors >= MAX_CONSECUTIVE_POLL_ERRORS
        ):
            job.status = JobStatus.FAILED
            job.error = JobError(code=error.code, message=error.message)
        logger.warning("provider poll failed", extra={"code": error.code, "status_code": error.status_code})
    except (ProviderAuthError, ProviderRejected, ProviderNotConfigured) as error:
        job.status = JobStatus.FAILED
        code = getattr(error, "code", "provider_not_configured")
        job.error = JobError(code=code, message=str(error))
    else:
        job.consecutive_poll_errors = 0
        _apply_state(job, state)

    elapsed = (now - job.created_at).total_seconds() / runtime.settings.time_scale
    wait = polling.next_wait_seconds(
        elapsed_seconds=elapsed,
        progress=job.progress,
        duration=job.duration,
        resolution=job.resolution,
        retry_after=retry_after,
    )
    return _result_after_save(runtime, job, wait)


def _apply_state(job: Job, state: ProviderJobState) -> None:
    if state.progress is not None:
        job.progress = max(job.progress, min(100, state.progress))
    if state.status is JobStatus.SUCCEEDED:
        # Not succeeded until the copy to S3 is done: finalize decides.
        job.status = JobStatus.RUNNING
        job.provider_video_url = state.video_url
        job.progress = 100
        return
    job.status = state.status
    if state.error is not None:
        job.error = state.error
    elif state.status is JobStatus.FAILED:
        job.error = JobError(code="provider_failed", message="the provider reported a failure")
    elif state.status is JobStatus.EXPIRED:
        job.error = JobError(code="provider_expired", message="the provider expired the job")


def _result_after_save(runtime: Runtime, job: Job, wait: int) -> PollResult:
    try:
        _save(runtime, job)
    except JobAlreadyTerminal:
        job = runtime.store.get(job.id)
    status = job.status
    if status is JobStatus.RUNNING and job.provider_video_url:
        status = JobStatus.SUCCEEDED  # ready to finalize
    return PollResult(job_id=job.id, status=status, wait_seconds=wait)


def finalize_job(runtime: Runtime, job_id: str) -> FinalizeResult:
    """Copy the provider's video into the bucket, then mark the job succeeded.

    Transient copy errors propagate so that the state machine retries this step;
    a job is never succeeded unless the full, verified object is in S3.
    """
    from videohook.s3_copier import VideoCopyError, copy_url_to_s3

    job = runtime.store.get(job_id)
    logger.append_keys(job_id=job.id)
    if job.status.is_terminal:
        return FinalizeResult(job_id=job.id, status=job.status)
    key = f"{runtime.settings.video_key_prefix}{job.tenant_id}/{job.id}.mp4"
    try:
        copied = copy_url_to_s3(
            source_url=job.provider_video_url or "",
            bucket=runtime.settings.video_bucket,
            key=key,
            s3_client=runtime.s3,
            http_client=runtime.http,
        )
    except VideoCopyError as error:
        if error.retryable:
            raise  # the state machine retries FinalizeVideo, then RecordFailure records it
        job.status = JobStatus.FAILED
        job.error = JobError(code=error.code, message=str(error))
        _result_after_save(runtime, job, 0)
        return FinalizeResult(job_id=job.id, status=JobStatus.FAILED)
    job.status = JobStatus.SUCCEEDED
    job.progress = 100
    job.video = VideoArtifact(
        s3_uri=f"s3://{copied.bucket}/{copied.key}",
        bytes=copied.bytes,
        sha256=copied.sha256,
        content_type=copied.content_type,
    )
    result = _result_after_save(runtime, job, 0)
    logger.info("video stored", extra={"bytes": copied.bytes})
    return FinalizeResult(job_id=job.id, status=result.status)


_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def _error_code(error_name: str) -> str:
    """A retried-out copy error keeps its own code; other names become snake case.

    `States.Timeout` -> `workflow_timeout`, `Lambda.ServiceException` -> `lambda_service_exception`,
    `JSONDecodeError` -> `json_decode_error`.
    """
    from videohook import s3_copier

    error_class = getattr(s3_copier, error_name, None)
    if isinstance(error_class, type) and issubclass(error_class, s3_copier.VideoCopyError):
        return error_class.code
    if error_name.startswith("States."):
        error_name = "Workflow." + error_name.removeprefix("States.")
    words = [_WORD_BOUNDARY.sub("_", part) for part in error_name.split(".") if part]
    return "_".join(words).lower() or "internal_error"


def fail_job(runtime: Runtime, job_id: str, error: dict[str, Any]) -> FinalizeResult:
    """Record a step's uncaught error (from a Catch) as the job's failure."""
    job = runtime.store.get(job_id)
    if job.status.is_terminal:
        return FinalizeResult(job_id=job.id, status=job.status)
    name = str(error.get("Error") or "InternalError")
    message = "the workflow failed"
    try:
        message = json.loads(error.get("Cause") or "{}").get("errorMessage") or message
    except (TypeError, ValueError, AttributeError):
        message = str(error.get("Cause") or message)
    job.status = JobStatus.FAILED
    job.error = JobError(code=_error_code(name), message=message[:500])
    result = _result_after_save(runtime, job, 0)
    return FinalizeResult(job_id=job.id, status=result.status)
