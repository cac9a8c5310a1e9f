"""Submitting and reading jobs: what POST and GET /v1/videos do."""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
import secrets
import time
from datetime import datetime, timedelta

from aws_lambda_powertools import Logger

from videohook import polling
from videohook.errors import ApiError
from videohook.job_store import JobNotFound
from videohook.models import (
    CreateVideoRequest,
    Job,
    JobView,
    ProviderName,
    WorkflowInput,
    utc_now,
)
from videohook.providers import contract_of
from videohook.providers.base import (
    GenerationRequest,
    ProviderAuthError,
    ProviderError,
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
