"""videohook.job_reads: cursors and cancel_job, against a fake runtime."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from handlers.rest_api.errors import status_of
from tests.fakes import FakeRuntime
from videohook import job_reads
from videohook.config import Settings
from videohook.errors import DomainError, InvalidInput
from videohook.models import Job, JobStatus, ProviderName

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:Videohook-StateMachine"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def a_job(status: JobStatus = JobStatus.CANCELED) -> Job:
    return Job(
        id="vid_01jqzzzzzzzzzzzzzzzzzzzzzz",
        tenant_id="key_a",
        provider=ProviderName.SANDBOX,
        prompt="a heron",
        status=status,
        created_at=T0,
        updated_at=T0,
        deadline_at=T0 + timedelta(hours=1),
    )


# ---- cursors -------------------------------------------------------------------------


def test_a_cursor_round_trips_and_is_opaque() -> None:
    position = {"id": "vid_01jqzzzzzzzzzzzzzzzzzzzzzz", "created_at": "2025-03-01T12:00:00.000000Z"}
    cursor = job_reads.encode_cursor(position)
    assert "vid_" not in cursor and "=" not in cursor
    assert job_reads.decode_cursor(cursor) == position


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 at all!",
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        base64.urlsafe_b64encode(b'{"id": "vid_x", "t": "2025"}').decode(),
        base64.urlsafe_b64encode(json.dumps({"id": 5, "t": None}).encode()).decode(),
        base64.urlsafe_b64encode(
            json.dumps({"id": "vid_01jqzzzzzzzzzzzzzzzzzzzzzz", "t": "2025-03-01T12:00:00Z"}).encode()
        ).decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_anything_else_is_an_invalid_cursor(cursor: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        job_reads.decode_cursor(cursor)
    assert (status_of(raised.value), raised.value.code, raised.value.field) == (
        400,
        "invalid_cursor",
        "cursor",
    )


# ---- cancel ----------------------------------------------------------------------------


def runtime_with(stored: Job | None = None, **sfn_errors: Exception) -> FakeRuntime:
    runtime = FakeRuntime(Settings(state_machine_arn=MACHINE))
    runtime.sfn.stop_error, runtime.sfn.start_error = (
        sfn_errors.get("stop_error"),
        sfn_errors.get("start_error"),
    )
    if stored is not None:
        runtime.store.jobs[stored.id] = stored
    return runtime


def test_cancel_stops_the_execution_then_starts_the_announcing_one() -> None:
    runtime = runtime_with(a_job(JobStatus.RUNNING))
    view = job_reads.cancel_job(runtime, a_job().id, tenant_id="key_a")
    assert view.status is JobStatus.CANCELED
    (stop_args,), (start_args,) = runtime.calls("sfn.stop_execution"), runtime.calls("sfn.start_execution")
    assert runtime.names() == ["store.cancel", "sfn.stop_execution", "sfn.start_execution"]
    assert stop_args["executionArn"] == (
        "arn:aws:states:us-east-1:123456789012:execution:Videohook-StateMachine:" + a_job().id
    )
    assert start_args["stateMachineArn"] == MACHINE
    assert start_args["name"] == a_job().id + "-canceled"
    assert json.loads(start_args["input"]) == {"job_id": a_job().id, "wait_seconds": 0}


def test_cancel_tolerates_a_missing_execution_and_a_repeated_announcement() -> None:
    runtime = runtime_with(
        a_job(JobStatus.RUNNING),
        stop_error=FakeRuntime().sfn.exceptions.ExecutionDoesNotExist(),
        start_error=FakeRuntime().sfn.exceptions.ExecutionAlreadyExists(),
    )
    view = job_reads.cancel_job(runtime, a_job().id, tenant_id="key_a")
    assert view.status is JobStatus.CANCELED
    assert len(runtime.calls("sfn.stop_execution") + runtime.calls("sfn.start_execution")) == 2


@pytest.mark.parametrize(
    ("stored", "status", "code"),
    [(None, 404, "not_found"), (a_job(JobStatus.SUCCEEDED), 409, "job_finished")],
)
def test_cancel_refusals_touch_no_execution(stored: Job | None, status: int, code: str) -> None:
    runtime = runtime_with(stored)
    with pytest.raises(DomainError) as raised:
        job_reads.cancel_job(runtime, a_job().id, tenant_id="key_a")
    assert (status_of(raised.value), raised.value.code, raised.value.field) == (status, code, "id")
    assert runtime.calls("sfn.stop_execution") == runtime.calls("sfn.start_execution") == []
    if code == "job_finished":
        assert "succeeded" in raised.value.message
