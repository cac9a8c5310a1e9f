"""What the API does: submit (idempotently), read, list and cancel jobs, and accept uploads."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import random
import re
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger

from videohook import telemetry, wait_policy
from videohook.errors import ApiError
from videohook.job_store import SUBMISSION_IN_PROGRESS, JobAlreadyTerminal, JobNotFound
from videohook.models import (
    KNOWN_MODELS,
    MAX_IMAGE_BYTES,
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    MAX_UPLOAD_BYTES,
    MAX_URL_CHARS,
    MODELS_WITHOUT_1080P,
    CreateUploadRequest,
    CreateVideoRequest,
    Job,
    JobError,
    JobList,
    JobStatus,
    JobView,
    ProviderName,
    ReconcileReport,
    UploadView,
    WorkflowInput,
    utc_now,
)
from videohook.providers import SUPPORTS_REFERENCE_IMAGES, SUPPORTS_UPLOAD_URL, contract_of
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
from videohook.runtime import ProviderNotConfigured, Runtime

logger = Logger(service="videohook")

DATA_URI = re.compile(r"^data:image/(png|jpeg|webp);base64,(?P<data>[A-Za-z0-9+/=\s]+)$")
SUBMIT_ATTEMPTS = 3
# Submit errors after which the provider may have started the job.
MAY_HAVE_STARTED = (ProviderTimeout, ProviderMalformed)
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
IDEMPOTENCY_KEY_FIELD = "Idempotency-Key"
# A duplicate that finds its twin still in progress waits this long (times the time scale,
# at least MIN_IN_PROGRESS_WAIT_SECONDS) before answering 409.
IN_PROGRESS_WAIT_SECONDS = 20.0
MIN_IN_PROGRESS_WAIT_SECONDS = 5.0


def _ulid(now: datetime | None = None) -> str:
    """A ULID in lower case: sortable by creation time, unguessable."""
    millis = int((now or utc_now()).timestamp() * 1000)
    value = (millis << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars)).lower()


def new_job_id(now: datetime | None = None) -> str:
    """`vid_` + a ULID."""
    return "vid_" + _ulid(now)


def new_upload_id(now: datetime | None = None) -> str:
    """`upl_` + a ULID."""
    return "upl_" + _ulid(now)


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
    if len(url) > MAX_URL_CHARS:
        raise ApiError(
            400, "invalid_image", f"image URLs are limited to {MAX_URL_CHARS} characters", field=field
        )


def _validate_request(request: CreateVideoRequest, contract: ProviderName, runtime: Runtime) -> None:
    from videohook.webhooks import WebhookUrlRejected, validate_webhook_url

    if not request.prompt.strip():
        raise ApiError(400, "invalid_prompt", "prompt must not be blank", field="prompt")
    if request.model is not None and request.model not in KNOWN_MODELS:
        raise ApiError(400, "unknown_model", f"model must be one of {', '.join(KNOWN_MODELS)}", field="model")
    model = request.model or runtime.settings.default_model
    if request.resolution == "1080p" and model in MODELS_WITHOUT_1080P:
        raise ApiError(400, "unsupported_resolution", f"{model} has no 1080p", field="resolution")
    if request.image is not None and request.image.url is not None:
        _validate_image_url(request.image.url, "image.url")
    if request.reference_images is not None:
        if request.image is not None:
            raise ApiError(
                400,
                "conflicting_inputs",
                "send image or reference_images, not both",
                field="reference_images",
            )
        if contract not in SUPPORTS_REFERENCE_IMAGES:
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
    if request.metadata is not None:
        if len(json.dumps(request.metadata).encode()) > MAX_METADATA_BYTES:
            raise ApiError(
                400,
                "metadata_too_large",
                f"metadata exceeds {MAX_METADATA_BYTES} bytes of JSON",
                field="metadata",
            )
        if _depth(request.metadata) > MAX_METADATA_DEPTH:
            raise ApiError(
                400,
                "metadata_too_deep",
                f"metadata nests deeper than {MAX_METADATA_DEPTH} levels",
                field="metadata",
            )
        if not all(_storable_number(number) for number in _numbers(request.metadata)):
            raise ApiError(
                400,
                "invalid_metadata",
                "metadata numbers must have at most 38 digits and lie within 1e-130 and 1e125",
                field="metadata",
            )
    if request.webhook_url is not None:
        try:
            validate_webhook_url(
                request.webhook_url,
                allow_loopback=runtime.settings.allow_loopback_webhooks,
                schemes=runtime.settings.allowed_webhook_schemes,
            )
        except WebhookUrlRejected as error:
            raise ApiError(400, "invalid_webhook_url", str(error), field="webhook_url") from error


def _numbers(value: Any) -> list[int | float]:
    if isinstance(value, dict):
        return [number for item in value.values() for number in _numbers(item)]
    if isinstance(value, list):
        return [number for item in value for number in _numbers(item)]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [value]
    return []


def _storable_number(number: int | float) -> bool:
    """What a DynamoDB number can hold: 38 significant digits, magnitude 1e-130 to 1e126."""
    if isinstance(number, int):
        return len(str(abs(number)).rstrip("0") or "0") <= 38 and abs(number) < 10**126
    return math.isfinite(number) and (number == 0 or 1e-130 <= abs(number) < 1e126)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(item) for item in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(item) for item in value), default=0)
    return 0


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


def _upload_key(runtime: Runtime, tenant_id: str, upload_id: str) -> str:
    return f"{runtime.settings.upload_key_prefix}{tenant_id}/{upload_id}"


def _uploaded_image_url(runtime: Runtime, tenant_id: str, upload_id: str) -> str:
    """A presigned GET URL of the tenant's upload, after checking it is there and small enough."""
    from botocore.exceptions import ClientError

    field = "image.upload_id"
    bucket, key = runtime.settings.video_bucket, _upload_key(runtime, tenant_id, upload_id)
    try:
        head = runtime.s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound", "403"):
            raise ApiError(
                400,
                "upload_not_found",
                f"no upload '{upload_id}': PUT the image to its upload_url first "
                "(uploads expire after a day)",
                field=field,
            ) from error
        raise
    size = int(head.get("ContentLength", 0))
    if size > MAX_UPLOAD_BYTES:
        raise ApiError(400, "image_too_large", f"the upload exceeds {MAX_UPLOAD_BYTES} bytes", field=field)
    if size == 0:
        raise ApiError(400, "invalid_image", "the upload is empty", field=field)
    return runtime.s3.generate_presigned_url(
        "get_object",
        Params={"Bucket": bucket, "Key": key},
        ExpiresIn=runtime.settings.download_url_ttl_seconds,
    )


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


class _Prepared:
    """What submit needs after every check passed: no write has happened yet."""

    def __init__(self, provider: ProviderName, image_url: str | None) -> None:
        self.provider = provider
        self.image_url = image_url


def _prepare(runtime: Runtime, request: CreateVideoRequest, *, tenant_id: str) -> _Prepared:
    """Every check: a request that passes creates a job, one that fails creates nothing."""
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
    image_url = request.image.url if request.image else None
    if request.image is not None and request.image.upload_id is not None:
        image_url = _uploaded_image_url(runtime, tenant_id, request.image.upload_id)
    return _Prepared(provider, image_url)


def submit_job(runtime: Runtime, request: CreateVideoRequest, *, tenant_id: str) -> Job:
    """Validate, start the provider job, record it, start its workflow execution."""
    return _start_job(runtime, request, _prepare(runtime, request, tenant_id=tenant_id), tenant_id=tenant_id)


def _claim_id(tenant_id: str, idempotency_key: str) -> str:
    return hashlib.sha256(f"{tenant_id}\0{idempotency_key}".encode()).hexdigest()


def _start_job(
    runtime: Runtime,
    request: CreateVideoRequest,
    prepared: _Prepared,
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
        deadline_at=now + timedelta(seconds=settings.job_deadline_seconds * settings.time_scale),
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
    job.provider_request_id = request_id
    job.updated_at = utc_now()
    try:
        runtime.store.update(job)
    except JobAlreadyTerminal:
        # Canceled (found through the list) while the provider was called: the cancel's own
        # execution announces it; this job needs no workflow of its own.
        logger.info("job canceled during submit", extra={"provider_request_id": request_id})
        runtime.store.end_submission(job.id)
        return runtime.store.get(job.id)
    logger.info("job submitted", extra={"provider": provider.value, "provider_request_id": request_id})
    return _start_workflow(runtime, job)


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
    from videohook.job_events import emit_event  # notifications renders jobs with this module

    emit_event(runtime, job)  # video.queued
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
    prepared = _prepare(runtime, request, tenant_id=tenant_id)
    if idempotency_key is None:
        return public_job(runtime, _start_job(runtime, request, prepared, tenant_id=tenant_id))
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
        raise ApiError(
            422,
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request body",
            field=IDEMPOTENCY_KEY_FIELD,
        ) from error
    except idempotency.StillInProgress as error:
        raise ApiError(
            409,
            "idempotency_key_in_progress",
            "a request with this Idempotency-Key is still being processed; retry shortly",
            field=IDEMPOTENCY_KEY_FIELD,
            headers={"Retry-After": "1"},
        ) from error
    return get_job(runtime, job_id, tenant_id=tenant_id)


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


CURSOR_FIELD = "cursor"
_CURSOR_ID = re.compile(r"^vid_[0-9a-z]{26}$")
_CURSOR_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


def encode_cursor(position: dict[str, str]) -> str:
    raw = json.dumps({"id": position["id"], "t": position["created_at"]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, str]:
    """The position an opaque cursor stands for; 400 for anything this API did not hand out."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
        position = {"id": value["id"], "created_at": value["t"]}
    except (ValueError, TypeError, KeyError, binascii.Error) as error:
        raise _invalid_cursor() from error
    if (
        not isinstance(position["id"], str)
        or not isinstance(position["created_at"], str)
        or not _CURSOR_ID.match(position["id"])
        or not _CURSOR_TIME.match(position["created_at"])
    ):
        raise _invalid_cursor()
    return position


def _invalid_cursor() -> ApiError:
    return ApiError(400, "invalid_cursor", "cursor is not a cursor from this API", field=CURSOR_FIELD)


def list_jobs(
    runtime: Runtime,
    *,
    tenant_id: str,
    limit: int = 20,
    status: JobStatus | None = None,
    cursor: str | None = None,
) -> JobList:
    """GET /v1/videos: the tenant's jobs, newest first, one page at a time."""
    after = decode_cursor(cursor) if cursor else None
    jobs, position = runtime.store.list_for_tenant(tenant_id, limit=limit, status=status, after=after)
    return JobList(
        data=[public_job(runtime, job) for job in jobs],
        next_cursor=encode_cursor(position) if position is not None else None,
    )


# ---- cancel ----------------------------------------------------------------

CANCELED_SUFFIX = "-canceled"


def _execution_arn(state_machine_arn: str, name: str) -> str:
    """arn:<p>:states:<r>:<a>:stateMachine:<machine> -> arn:<p>:states:<r>:<a>:execution:<machine>:<name>"""
    prefix, machine = state_machine_arn.rsplit(":stateMachine:", 1)
    return f"{prefix}:execution:{machine}:{name}"


def cancel_job(runtime: Runtime, job_id: str, *, tenant_id: str) -> JobView:
    """POST /v1/videos/{id}/cancel: mark it canceled, stop its execution, announce it.

    The announcement is the workflow's own: a second execution of the same state machine,
    named `<job id>-canceled`, polls once, finds the job terminal and publishes
    `video.canceled` (SNS and webhook) like any other end.
    """
    telemetry.bind_job(job_id)
    try:
        job = runtime.store.cancel(job_id, tenant_id, now=utc_now())
    except JobNotFound as error:
        raise ApiError(404, "not_found", f"no video job '{job_id}'", field="id") from error
    except JobAlreadyTerminal as error:
        status = runtime.store.get(job_id).status.value
        raise ApiError(409, "job_finished", f"the job has already ended ({status})", field="id") from error
    sfn = runtime.sfn
    arn = runtime.settings.state_machine_arn
    try:
        sfn.stop_execution(
            executionArn=_execution_arn(arn, job.id), error="Canceled", cause="canceled by the caller"
        )
    except sfn.exceptions.ExecutionDoesNotExist:
        logger.warning("no execution to stop")
    try:
        sfn.start_execution(
            stateMachineArn=arn,
            name=job.id + CANCELED_SUFFIX,
            input=WorkflowInput(job_id=job.id, wait_seconds=0).model_dump_json(),
        )
    except sfn.exceptions.ExecutionAlreadyExists:
        pass
    logger.info("job canceled")
    telemetry.job_finished(job)
    return public_job(runtime, job)


# ---- uploads ---------------------------------------------------------------


def create_upload(runtime: Runtime, request: CreateUploadRequest, *, tenant_id: str) -> UploadView:
    """POST /v1/uploads: a presigned S3 PUT for one image, later named by its upload_id."""
    now = utc_now()
    upload_id = new_upload_id(now)
    ttl = runtime.settings.upload_url_ttl_seconds
    url = runtime.s3.generate_presigned_url(
        "put_object",
        Params={
            "Bucket": runtime.settings.video_bucket,
            "Key": _upload_key(runtime, tenant_id, upload_id),
            "ContentType": request.content_type,
        },
        ExpiresIn=ttl,
    )
    return UploadView(
        upload_id=upload_id,
        upload_url=url,
        headers={"Content-Type": request.content_type},
        expires_at=now + timedelta(seconds=ttl),
    )
