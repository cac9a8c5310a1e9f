"""The plain functions behind every handler: submit, get, poll, finalize, fail, publish, deliver.

Handlers parse events and shape responses; everything the product decides
happens here, against a `Runtime` that tests can build over moto and the
sandbox provider.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger

from videohook import polling
from videohook.errors import ApiError
from videohook.job_store import JobAlreadyTerminal, JobNotFound
from videohook.models import (
    CreateVideoRequest,
    FinalizeResult,
    Job,
    JobError,
    JobStatus,
    JobView,
    PollResult,
    ProviderName,
    VideoArtifact,
    WebhookEvent,
    WorkflowInput,
    utc_now,
)
from videohook.providers import contract_of
from videohook.providers.base import (
    GenerationRequest,
    ProviderAuthError,
    ProviderError,
    ProviderJobState,
    ProviderMalformed,
    ProviderRejected,
    ProviderTransient,
    ProviderUnsupported,
)
from videohook.runtime import ProviderNotConfigured, Runtime

logger = Logger(service="videohook")

KNOWN_MODELS = ("grok-imagine-video", "grok-imagine-video-1.5")
MODELS_WITHOUT_1080P = ("grok-imagine-video",)
DATA_URI = re.compile(r"^data:image/(png|jpeg|webp);base64,(?P<data>[A-Za-z0-9+/=\s]+)$")
# API Gateway caps payloads at 10 MB; base64 adds a third, so cap the decoded image well below.
MAX_IMAGE_BYTES = 6 * 1024 * 1024
MAX_METADATA_BYTES = 4096
SUBMIT_ATTEMPTS = 3
# A provider that answers non-JSON or unknown shapes this many polls in a row has failed the job.
MAX_CONSECUTIVE_POLL_ERRORS = 10
EVENT_TYPES = {
    JobStatus.SUCCEEDED: "video.succeeded",
    JobStatus.FAILED: "video.failed",
    JobStatus.EXPIRED: "video.expired",
    JobStatus.CANCELED: "video.canceled",
    JobStatus.QUEUED: "video.queued",
    JobStatus.RUNNING: "video.running",
}
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_job_id(now: datetime | None = None) -> str:
    """`vid_` + a ULID: sortable by creation time, unguessable."""
    millis = int((now or utc_now()).timestamp() * 1000)
    value = (millis << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "vid_" + "".join(reversed(chars)).lower()


# ---- submit ----------------------------------------------------------------


def _validate_image_url(url: str, field: str) -> None:
    if url.startswith("data:"):
        match = DATA_URI.match(url)
        if not match:
            raise ApiError(
                400, "invalid_image", "data URIs must be data:image/(png|jpeg|webp);base64,...", field=field
            )
        try:
            decoded = base64.b64decode(match.group("data"), validate=False)
        except binascii.Error as error:
            raise ApiError(400, "invalid_image", "the data URI is not valid base64", field=field) from error
        if not decoded:
            raise ApiError(400, "invalid_image", "the data URI holds no image", field=field)
        if len(decoded) > MAX_IMAGE_BYTES:
            raise ApiError(413, "image_too_large", f"the image exceeds {MAX_IMAGE_BYTES} bytes", field=field)
        return
    if not url.startswith("https://") or len(url) <= len("https://"):
        raise ApiError(400, "invalid_image", "image URLs must be https URLs or data URIs", field=field)


def _validate_request(request: CreateVideoRequest, contract: ProviderName, runtime: Runtime) -> None:
    from videohook.webhooks import WebhookUrlRejected, validate_webhook_url

    if not request.prompt.strip():
        raise ApiError(400, "invalid_prompt", "prompt must not be blank", field="prompt")
    if request.model is not None and request.model not in KNOWN_MODELS:
        raise ApiError(400, "unknown_model", f"model must be one of {', '.join(KNOWN_MODELS)}", field="model")
    model = request.model or runtime.settings.default_model
    if request.resolution == "1080p" and model in MODELS_WITHOUT_1080P:
        raise ApiError(400, "unsupported_resolution", f"{model} has no 1080p", field="resolution")
    if request.image is not None:
        _validate_image_url(request.image.url, "image.url")
    if request.reference_images is not None:
        if request.image is not None:
            raise ApiError(
                400,
                "conflicting_inputs",
                "send image or reference_images, not both",
                field="reference_images",
            )
        if contract is not ProviderName.AIMLAPI:
            raise ApiError(
                400,
                "unsupported_by_provider",
                f"provider '{contract.value}' does not support reference_images",
                field="reference_images",
            )
        for index, url in enumerate(request.reference_images):
            if not url.startswith("https://"):
                raise ApiError(
                    400,
                    "invalid_image",
                    "reference images must be https URLs",
                    field=f"reference_images.{index}",
                )
    if request.metadata is not None and len(json.dumps(request.metadata)) > MAX_METADATA_BYTES:
        raise ApiError(
            400,
            "metadata_too_large",
            f"metadata exceeds {MAX_METADATA_BYTES} bytes of JSON",
            field="metadata",
        )
    if request.webhook_url is not None:
        try:
            validate_webhook_url(request.webhook_url, allow_loopback=runtime.settings.allow_loopback_webhooks)
        except WebhookUrlRejected as error:
            raise ApiError(400, "invalid_webhook_url", str(error), field="webhook_url") from error


def _stored_image(request: CreateVideoRequest) -> dict[str, str] | None:
    """Data URIs are passed to the provider but not kept: a job record stays small."""
    if request.image is None:
        return None
    url = request.image.url
    if url.startswith("data:"):
        header = url.split(",", 1)[0]
        return {"url": f"{header},<{len(url)} characters omitted>"}
    return {"url": url}


def _provider_submit(runtime: Runtime, provider: ProviderName, request: GenerationRequest) -> str:
    adapter = runtime.adapter(provider)
    for attempt in range(1, SUBMIT_ATTEMPTS + 1):
        try:
            return adapter.submit(request)
        except ProviderTransient as error:
            if attempt == SUBMIT_ATTEMPTS:
                raise
            delay = error.retry_after if error.retry_after is not None else 0.5 * 2**attempt
            delay = min(delay, 5.0) * random.uniform(0.5, 1.0)
            logger.warning("provider submit transient error, retrying", extra={"attempt": attempt})
            time.sleep(delay * runtime.settings.time_scale)
    raise AssertionError("unreachable")


def submit_job(runtime: Runtime, request: CreateVideoRequest, *, tenant_id: str) -> Job:
    """Start the provider job, record it, start its workflow execution."""
    settings = runtime.settings
    provider = request.provider or settings.provider
    contract = contract_of(provider, settings)
    _validate_request(request, contract, runtime)
    try:
        runtime.provider_key(provider)
    except ProviderNotConfigured as error:
        raise ApiError(
            400 if request.provider else 503, "provider_not_configured", str(error), field="provider"
        ) from error

    now = utc_now()
    job = Job(
        id=new_job_id(now),
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
        metadata=request.metadata,
        created_at=now,
        updated_at=now,
        deadline_at=now + timedelta(seconds=settings.job_deadline_seconds * settings.time_scale),
    )
    logger.append_keys(job_id=job.id)
    # The record exists before the paid provider call, so nothing the provider accepted goes unrecorded.
    runtime.store.create(job)
    generation = GenerationRequest(
        prompt=request.prompt,
        model=job.model,
        duration=request.duration,
        resolution=request.resolution,
        aspect_ratio=request.aspect_ratio,
        image_url=request.image.url if request.image else None,
        reference_images=tuple(request.reference_images) if request.reference_images else None,
        user=request.user,
    )
    try:
        request_id = _provider_submit(runtime, provider, generation)
    except ProviderError as error:
        runtime.store.delete(job.id)
        raise _submit_error(error) from error
    job.provider_request_id = request_id
    job.updated_at = utc_now()
    runtime.store.update(job)
    runtime.sfn.start_execution(
        stateMachineArn=settings.state_machine_arn,
        name=job.id,
        input=WorkflowInput(
            job_id=job.id, wait_seconds=polling.first_wait_seconds(job.duration, job.resolution)
        ).model_dump_json(),
    )
    logger.info("job submitted", extra={"provider": provider.value, "provider_request_id": request_id})
    return job


def _submit_error(error: ProviderError) -> ApiError:
    if isinstance(error, ProviderUnsupported):
        return ApiError(400, error.code, error.message, field=error.field)
    if isinstance(error, ProviderRejected):
        return ApiError(400, "provider_rejected", f"the provider refused the request: {error.message}")
    if isinstance(error, ProviderAuthError):
        return ApiError(502, "provider_auth_failed", "the provider refused videohook's API key")
    headers = {}
    if isinstance(error, ProviderTransient) and error.retry_after:
        headers["Retry-After"] = str(int(error.retry_after + 0.999))
    return ApiError(503, "provider_unavailable", "the provider is unavailable; try again", headers=headers)


# ---- read ------------------------------------------------------------------


def public_job(runtime: Runtime, job: Job) -> JobView:
    download_url = None
    if job.video is not None:
        bucket, key = job.video.s3_uri.removeprefix("s3://").split("/", 1)
        download_url = runtime.presigned_download_url(bucket, key)
    return job.public_view(download_url)


def get_job(runtime: Runtime, job_id: str, *, tenant_id: str) -> JobView:
    try:
        job = runtime.store.get_for_tenant(job_id, tenant_id)
    except JobNotFound as error:
        raise ApiError(404, "not_found", f"no video job '{job_id}'", field="id") from error
    return public_job(runtime, job)


# ---- workflow steps --------------------------------------------------------


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


def event_id_for(job: Job) -> str:
    """Stable per job and event type, so every retry of one event carries one webhook-id."""
    return f"evt_{job.id.removeprefix('vid_')}_{job.status.value}"


def publish_event(runtime: Runtime, job_id: str) -> dict[str, Any]:
    """Publish the job's current event to SNS; return it for the webhook step."""
    job = runtime.store.get(job_id)
    logger.append_keys(job_id=job.id)
    event = WebhookEvent(
        type=EVENT_TYPES[job.status],
        timestamp=job.completed_at or utc_now(),
        data=public_job(runtime, job).model_dump(mode="json"),
    )
    body = event.model_dump(mode="json")
    runtime.sns.publish(
        TopicArn=runtime.settings.topic_arn,
        Message=json.dumps(body),
        MessageAttributes={
            "type": {"DataType": "String", "StringValue": event.type},
            "status": {"DataType": "String", "StringValue": job.status.value},
            "provider": {"DataType": "String", "StringValue": job.provider.value},
        },
    )
    return {"job_id": job.id, "event_id": event_id_for(job), "event": body}


class WebhookDeliveryFailed(Exception):
    """Raised so the state machine retries the delivery on its own schedule."""


def deliver_event(runtime: Runtime, job_id: str, event_id: str, event: dict[str, Any]) -> dict[str, Any]:
    from videohook.webhooks import WebhookUrlRejected, deliver_webhook, validate_webhook_url

    job = runtime.store.get(job_id)
    if not job.webhook_url:
        return {"job_id": job_id, "delivered": False, "skipped": "no webhook_url"}
    try:
        # Resolved again at every attempt: the answer at submit time may have changed.
        validate_webhook_url(job.webhook_url, allow_loopback=runtime.settings.allow_loopback_webhooks)
    except WebhookUrlRejected as error:
        return {"job_id": job_id, "delivered": False, "skipped": str(error)}
    attempt = deliver_webhook(
        url=job.webhook_url,
        event_id=event_id,
        body=json.dumps(event).encode(),
        secret=runtime.webhook_secret(),
        client=runtime.http,
    )
    if not attempt.delivered:
        logger.warning(
            "webhook not delivered", extra={"status_code": attempt.status_code, "error": attempt.error}
        )
        raise WebhookDeliveryFailed(f"webhook answered {attempt.status_code or attempt.error}")
    return {"job_id": job_id, "delivered": True, "status_code": attempt.status_code}
