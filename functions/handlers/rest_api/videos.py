"""Routes of video jobs: create, list, get, cancel."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Header, Query

from handlers.rest_api import request_context
from handlers.rest_api.errors import JSON
from handlers.rest_api.openapi import JOB_ID, responses, secured
from videohook.models import IDEMPOTENCY_KEY_HEADER, CreateVideoRequest, JobList, JobStatus, JobView
from videohook.runtime import get_runtime

router = Router()

# Printable ASCII, no leading or trailing space (HTTP trims those).
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]([ -~]{0,253}[!-~])?$"


@router.post(
    "/v1/videos",
    **secured(
        "Start a video job",
        responses(202, JobView, "Accepted: the job", 400, 409, 413, 415, 422, 502, 503),
        operation_id="createVideo",
        description=(
            "Starts the provider's job and answers at once with the queued job. With an "
            "`Idempotency-Key` header, a retry with the same key and body (same API key) answers "
            "with the same job, without a second provider job, even after a failure half-way (the "
            "job is resumed); the same key with a different body answers 422. Keys are remembered "
            "for a day. An error answer means no provider job was started. If the provider never "
            "answered the submit, it is not sent again (that could bill twice): the answer is the "
            "job, already `failed` with `provider_submit_timeout`."
        ),
    ),
)
def create_video(
    request: CreateVideoRequest,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=IDEMPOTENCY_KEY_HEADER,
            min_length=1,
            max_length=255,
            pattern=IDEMPOTENCY_KEY_PATTERN,
            description="Makes retries safe: 1-255 printable ASCII characters of your choice",
        ),
    ] = None,
) -> Response[JobView]:
    from videohook import submit  # for cold start: the provider adapters, httpx and botocore come with it

    job = submit.create_job(
        get_runtime(),
        request,
        tenant_id=request_context.tenant_id(),
        idempotency_key=idempotency_key,
        lambda_context=request_context.lambda_context(),
    )
    return Response(status_code=202, content_type=JSON, body=job)


@router.get(
    "/v1/videos",
    **secured(
        "List your video jobs",
        responses(200, JobList, "One page of jobs", 400),
        operation_id="listVideos",
        description="Newest first, one page at a time: pass `next_cursor` as `cursor` until it is null.",
    ),
)
def list_videos(
    status: Annotated[JobStatus | None, Query(description="Only jobs in this status")] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size")] = 20,
    cursor: Annotated[
        str | None, Query(min_length=1, max_length=512, description="`next_cursor` of the previous page")
    ] = None,
) -> Response[JobList]:
    from videohook import job_reads  # for cold start: botocore comes with it

    runtime, tenant_id = get_runtime(), request_context.tenant_id()
    page = job_reads.list_jobs(runtime, tenant_id=tenant_id, limit=limit, status=status, cursor=cursor)
    return Response(status_code=200, content_type=JSON, body=page)


@router.get(
    "/v1/videos/<id>",
    **secured(
        "Get a video job",
        responses(200, JobView, "The job", 400, 404),
        operation_id="getVideo",
    ),
)
def get_video(id: JOB_ID) -> Response[JobView]:  # noqa: A002 - the path parameter's name
    from videohook import job_reads  # for cold start: botocore comes with it

    job = job_reads.get_job(get_runtime(), id, tenant_id=request_context.tenant_id())
    return Response(status_code=200, content_type=JSON, body=job)


@router.post(
    "/v1/videos/<id>/cancel",
    **secured(
        "Cancel a video job",
        responses(200, JobView, "The canceled job", 400, 404, 409),
        operation_id="cancelVideo",
        description=(
            "Stops the job's workflow and marks it `canceled`; the `video.canceled` event follows "
            "(webhook and SNS). A job that has already ended answers 409 `job_finished`."
        ),
    ),
)
def cancel_video(id: JOB_ID) -> Response[JobView]:  # noqa: A002 - the path parameter's name
    from videohook import job_reads  # for cold start: botocore comes with it

    job = job_reads.cancel_job(get_runtime(), id, tenant_id=request_context.tenant_id())
    return Response(status_code=200, content_type=JSON, body=job)
