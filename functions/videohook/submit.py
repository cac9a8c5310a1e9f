"""Submitting a job: create it, start the provider's job, start its workflow, each step recorded first;
resume or fail a submit that died half-way (a retried request, or the scheduled reconciler)."""

from __future__ import annotations

import hashlib
import random
import time
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger

from videohook import errors, telemetry, wait_policy
from videohook.job_events import emit_event
from videohook.job_ids import new_job_id
from videohook.job_reads import get_job
from videohook.job_store import SUBMISSION_IN_PROGRESS, JobAlreadyTerminal, JobNotFound
from videohook.models import (
    IDEMPOTENCY_KEY_HEADER,
    CreateVideoRequest,
    Job,
    JobError,
    JobStatus,
    JobView,
    ProviderName,
    utc_now,
)
from videohook.providers import SUPPORTS_UPLOAD_URL, contract_of
from videohook.providers.base import (
    GenerationRequest,
    ProviderAuthError,
    ProviderError,
    ProviderMalformed,
    ProviderRejected,
    ProviderTimeout,
    ProviderTransient,
    ProviderUnsupported,
)
from videohook.public_view import public_job
from videohook.runtime import Runtime
from videohook.submit_checks import Prepared, prepare
from videohook.workflow_payloads import ReconcileReport, WorkflowInput

logger = Logger(service="videohook")

SUBMIT_ATTEMPTS = 3
# Submit errors after which the provider may have started the job.
MAY_HAVE_STARTED = (ProviderTimeout, ProviderMalformed)
# A duplicate that finds its twin still in progress waits this long (times the time scale,
# at least MIN_IN_PROGRESS_WAIT_SECONDS) before answering idempotency_key_in_progress.
IN_PROGRESS_WAIT_SECONDS = 20.0
MIN_IN_PROGRESS_WAIT_SECONDS = 5.0


def _provider_submit(
    runtime: Runtime, provider: ProviderName, request: GenerationRequest, *, job_id: str | None = None
) -> str:
    adapter = runtime.adapter(provider)
    for attempt in range(1, SUBMIT_ATTEMPTS + 1):
        try:
            with telemetry.provider_request(provider, "submit", job_id=job_id):
                return adapter.submit(request)
        except ProviderTransient as error:
            # Sent but unanswered, or answered unreadably: the provider may have started a
            # paid job, so another attempt could start a second one.
            if attempt == SUBMIT_ATTEMPTS or isinstance(error, MAY_HAVE_STARTED):
                raise
            delay = error.retry_after if error.retry_after is not None else 0.5 * 2**attempt
            delay = min(delay, 5.0) * random.uniform(0.5, 1.0)
            logger.warning("provider submit transient error, retrying", extra={"attempt": attempt})
            time.sleep(delay * runtime.settings.time_scale)
    raise AssertionError("unreachable")


def submit_job(runtime: Runtime, request: CreateVideoRequest, *, tenant_id: str) -> Job:
    """Check, start the provider job, record it, start its workflow execution."""
    return _start_job(runtime, request, prepare(runtime, request, tenant_id=tenant_id), tenant_id=tenant_id)


def _stored_image(request: CreateVideoRequest) -> dict[str, str] | None:
    """Data URIs are passed to the provider but not kept: a job record stays small.

    Uploads are kept by id: the presigned URL the provider gets is a credential."""
    if request.image is None:
        return None
    if request.image.upload_id is not None:
        return {"upload_id": request.image.upload_id}
    url = request.image.url or ""
    if url.startswith("data:"):
        header = url.split(",", 1)[0]
        return {"url": f"{header},<{len(url)} characters omitted>"}
    return {"url": url}


def _claim_id(tenant_id: str, idempotency_key: str) -> str:
    return hashlib.sha256(f"{tenant_id}\0{idempotency_key}".encode()).hexdigest()


def _start_job(
    runtime: Runtime,
    request: CreateVideoRequest,
    prepared: Prepared,
    *,
    tenant_id: str,
    idempotency_key: str | None = None,
) -> Job:
    """Create the job, start the provider's, then the workflow; each step recorded first.

    With an Idempotency-Key the job id is claimed for the key before anything else: a retry
    after a crash (the first attempt's idempotency record is gone, so this runs again) finds
    the same job and resumes its submit instead of starting a second paid provider job.
    """
    settings = runtime.settings
    provider = prepared.provider
    now = utc_now()
    job_id = new_job_id(now)
    if idempotency_key is not None:
        claimed = runtime.store.claim(
            _claim_id(tenant_id, idempotency_key),
            job_id,
            now=now,
            expires_at=now + timedelta(seconds=settings.idempotency_ttl_seconds),
        )
        if claimed != job_id:  # an earlier attempt's claim: resume its job
            job_id = claimed
            try:
                return resume_submission(runtime, runtime.store.get(job_id))
            except JobNotFound:
                pass  # that attempt was refused by the provider: submit again under its id
    job = Job(
        id=job_id,
        tenant_id=tenant_id,
        provider=provider,
        prompt=request.prompt,
        model=request.model or settings.default_model,
        duration=request.duration,
        resolution=request.resolution,
        aspect_ratio=request.aspect_ratio,
        image=_stored_image(request),
        reference_images=request.reference_images,
        user=request.user,
        webhook_url=request.webhook_url,
        webhook_events=request.webhook_events,
        metadata=request.metadata,
        created_at=now,
        updated_at=now,
        deadline_at=now + timedelta(seconds=settings.job_deadline),
        submission=SUBMISSION_IN_PROGRESS,
    )
    telemetry.bind_job(job.id)
    # The record exists before the paid provider call, so nothing the provider accepted goes unrecorded.
    runtime.store.create(job)
    generation = GenerationRequest(
        prompt=request.prompt,
        model=job.model,
        duration=request.duration,
        resolution=request.resolution,
        aspect_ratio=request.aspect_ratio,
        image_url=prepared.image_url,
        reference_images=tuple(request.reference_images) if request.reference_images else None,
        user=request.user,
        # Zero-copy: a provider that can PUT the finished video gets a presigned URL of the
        # job's incoming key (valid until the job's deadline); FinalizeVideo verifies it and
        # moves it to the video key, server side.
        upload_url=runtime.presigned_video_upload_url(
            runtime.incoming_video_key(tenant_id, job.id),
            expires_in=int((job.deadline_at - now).total_seconds()) + 300,
        )
        if contract_of(provider, settings) in SUPPORTS_UPLOAD_URL
        else None,
    )
    try:
        request_id = _provider_submit(runtime, provider, generation, job_id=job.id)
    except MAY_HAVE_STARTED as error:
        # Not retried (see _provider_submit) and not lost: the job ends failed, announced
        # like any other end, and the caller gets it (202) rather than an error to retry.
        logger.warning("provider submit outcome unknown", extra={"code": error.code})
        code = "provider_submit_timeout" if isinstance(error, ProviderTimeout) else error.code
        return _fail_submission(runtime, job, code, SUBMIT_OUTCOME_UNKNOWN.format(error=error.message))
    except ProviderError as error:
        # The provider answered no: nothing was started, so nothing stays recorded.
        runtime.store.delete(job.id)
        raise _submit_error(error) from error
    # Accepted: the job runs from now (the provider's queue is part of its run), and the
    # forecast that plans its first poll tells the caller when it should be done.
    first = wait_policy.first_plan(job.duration, job.resolution)
    job.provider_request_id = request_id
    job.status = JobStatus.RUNNING
    job.updated_at = utc_now()
    job.estimated_done_at = job.created_at + timedelta(seconds=first.done_seconds * settings.time_scale)
    try:
        runtime.store.update(job)
    except JobAlreadyTerminal:
        # Canceled (found through the list) while the provider was called: the cancel's own
        # execution announces it; this job needs no workflow of its own.
        logger.info("job canceled during submit", extra={"provider_request_id": request_id})
        runtime.store.end_submission(job.id)
        return runtime.store.get(job.id)
    logger.info("job submitted", extra={"provider": provider.value, "provider_request_id": request_id})
    return _start_workflow(runtime, job, wait_seconds=first.wait_seconds)


# The job's error message when the provider may have started the job but videohook cannot
# know it: the call went unanswered, or (a retry, the reconciler) the submit died during it.
SUBMIT_OUTCOME_UNKNOWN = (
    "the provider did not confirm the job ({error}); it may have started it, so videohook did not "
    "submit it again (that could bill you twice). Submit again with a new Idempotency-Key."
)
SUBMIT_INTERRUPTED = (
    "the submit was interrupted while the provider was being called; videohook cannot tell whether "
    "the provider started the job and did not submit it again (that could bill you twice). "
    "Submit again with a new Idempotency-Key."
)


def _start_workflow(runtime: Runtime, job: Job, *, wait_seconds: int | None = None) -> Job:
    """Start the job's execution (named after the job: at most one), then end the submit."""
    if wait_seconds is None:
        wait_seconds = wait_policy.first_wait_seconds(job.duration, job.resolution)
    sfn = runtime.sfn
    try:
        sfn.start_execution(
            stateMachineArn=runtime.settings.state_machine_arn,
            name=job.id,
            input=WorkflowInput(job_id=job.id, wait_seconds=wait_seconds).model_dump_json(),
        )
    except sfn.exceptions.ExecutionAlreadyExists:
        # Started by an earlier attempt that died before recording it (AWS answers this only
        # when the input differs; an identical start is answered with the execution itself).
        logger.info("workflow already started")
    runtime.store.end_submission(job.id)
    job.submission = None
    if job.status.is_terminal:
        return job  # the execution announces the end
    telemetry.job_submitted(job)
    # video.queued (accepted), then video.running (the job as it is): every job sends both,
    # in this order, each event's `data.status` its own.
    emit_event(runtime, job.model_copy(update={"status": JobStatus.QUEUED}))
    if job.status is JobStatus.RUNNING:
        emit_event(runtime, job)
    return job


def _fail_submission(runtime: Runtime, job: Job, code: str, message: str) -> Job:
    """End a job whose provider call has an unknown outcome: failed, announced by its workflow
    (whose first poll finds it terminal and publishes video.failed, webhook included)."""
    now = utc_now()
    job.status = JobStatus.FAILED
    job.error = JobError(code=code, message=message)
    job.updated_at = job.completed_at = now
    try:
        runtime.store.update(job)
    except JobAlreadyTerminal:
        runtime.store.end_submission(job.id)
        return runtime.store.get(job.id)  # canceled meanwhile: the cancel announces it
    telemetry.job_finished(job)
    return _start_workflow(runtime, job, wait_seconds=0)


def resume_submission(runtime: Runtime, job: Job) -> Job:
    """Finish a submit that died half-way (a retried request, or the reconciler).

    The provider accepted (its request id is recorded): start the workflow, whose first poll,
    at once, checks the provider and takes the job to its end. No request id: whether the
    provider started the job is unknowable, so it fails (never resubmitted: that could be a
    second paid job).
    """
    if job.submission is None:
        return job  # the submit finished
    telemetry.bind_job(job.id)
    if job.status.is_terminal:
        runtime.store.end_submission(job.id)
        job.submission = None
        return job
    if job.provider_request_id is not None:
        logger.info("resuming a submit", extra={"provider_request_id": job.provider_request_id})
        return _start_workflow(runtime, job, wait_seconds=0)
    logger.warning("failing a submit interrupted during the provider call")
    return _fail_submission(runtime, job, "submission_interrupted", SUBMIT_INTERRUPTED)


def reconcile_submissions(runtime: Runtime, *, now: datetime | None = None) -> ReconcileReport:
    """The scheduled sweep: every submit unfinished for longer than a submit can live is resumed
    or failed (`resume_submission`), each with its webhook."""
    now = now or utc_now()
    report = ReconcileReport()
    cutoff = now - timedelta(seconds=runtime.settings.submission_grace)
    for job in runtime.store.unfinished_submissions(started_before=cutoff):
        report.examined += 1
        try:
            ended = resume_submission(runtime, job)
        except Exception:  # noqa: BLE001 - one bad job must not stop the sweep; the next run retries it
            logger.exception("could not reconcile a submit", extra={"job_id": job.id})
            continue
        (report.failed if ended.status is JobStatus.FAILED else report.resumed).append(job.id)
    return report


def create_job(
    runtime: Runtime,
    request: CreateVideoRequest,
    *,
    tenant_id: str,
    idempotency_key: str | None = None,
    lambda_context: Any = None,
) -> JobView:
    """POST /v1/videos: submit; with an Idempotency-Key, at most once per tenant and key."""
    prepared = prepare(runtime, request, tenant_id=tenant_id)
    if idempotency_key is None:
        return public_job(runtime, _start_job(runtime, request, prepared, tenant_id=tenant_id))
    # Imported here for cold start: Powertools' idempotency brings boto3, which the reconciler never needs.
    from videohook import idempotency

    try:
        job_id = idempotency.once(
            runtime,
            tenant_id=tenant_id,
            key=idempotency_key,
            request=request.model_dump(mode="json", exclude_none=True),
            start=lambda: (
                _start_job(
                    runtime, request, prepared, tenant_id=tenant_id, idempotency_key=idempotency_key
                ).id
            ),
            max_wait_seconds=max(
                MIN_IN_PROGRESS_WAIT_SECONDS, IN_PROGRESS_WAIT_SECONDS * runtime.settings.time_scale
            ),
            lambda_context=lambda_context,
        )
    except idempotency.KeyReused as error:
        raise errors.IdempotencyKeyReused(
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request body",
            field=IDEMPOTENCY_KEY_HEADER,
        ) from error
    except idempotency.StillInProgress as error:
        raise errors.IdempotencyInProgress(
            "idempotency_key_in_progress",
            "a request with this Idempotency-Key is still being processed; retry shortly",
            field=IDEMPOTENCY_KEY_HEADER,
            retry_after=1,
        ) from error
    return get_job(runtime, job_id, tenant_id=tenant_id)


def _submit_error(error: ProviderError) -> errors.DomainError:
    """The provider's no, in the API's words."""
    if isinstance(error, ProviderUnsupported):
        return errors.InvalidInput(error.code, error.message, field=error.field)
    if isinstance(error, ProviderRejected):
        return errors.ProviderRefused(
            "provider_rejected", f"the provider refused the request: {error.message}"
        )
    if isinstance(error, ProviderAuthError):
        return errors.ProviderAuthFailed("provider_auth_failed", "the provider refused videohook's API key")
    retry_after = error.retry_after if isinstance(error, ProviderTransient) else None
    return errors.ProviderUnavailable(
        "provider_unavailable", "the provider is unavailable; try again", retry_after=retry_after
    )
