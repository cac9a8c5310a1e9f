"""Reading and canceling a tenant's jobs: get, list (opaque cursors), cancel."""

from __future__ import annotations

import base64
import binascii
import json
import re

from aws_lambda_powertools import Logger

from videohook import telemetry
from videohook.errors import Conflict, InvalidInput, NotFound
from videohook.job_store import JobAlreadyTerminal, JobNotFound
from videohook.models import JobList, JobStatus, JobView, utc_now
from videohook.public_view import public_job
from videohook.runtime import Runtime
from videohook.workflow_payloads import WorkflowInput

logger = Logger(service="videohook")

CURSOR_FIELD = "cursor"
_CURSOR_ID = re.compile(r"^vid_[0-9a-z]{26}$")
_CURSOR_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
CANCELED_SUFFIX = "-canceled"


def job_not_found(job_id: str) -> NotFound:
    return NotFound("not_found", f"no video job '{job_id}'", field="id")


def get_job(runtime: Runtime, job_id: str, *, tenant_id: str) -> JobView:
    try:
        job = runtime.store.get_for_tenant(job_id, tenant_id)
    except JobNotFound as error:
        raise job_not_found(job_id) from error
    return public_job(runtime, job)


def encode_cursor(position: dict[str, str]) -> str:
    raw = json.dumps({"id": position["id"], "t": position["created_at"]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, str]:
    """The position an opaque cursor stands for; InvalidInput for anything this API did not hand out."""
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


def _invalid_cursor() -> InvalidInput:
    return InvalidInput("invalid_cursor", "cursor is not a cursor from this API", field=CURSOR_FIELD)


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
        raise job_not_found(job_id) from error
    except JobAlreadyTerminal as error:
        status = runtime.store.get(job_id).status.value
        raise Conflict("job_finished", f"the job has already ended ({status})", field="id") from error
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
