"""The API's plain functions beyond submit: cursors, cancel, uploads and the idempotent wait, with fakes."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from botocore.exceptions import ClientError

from handlers.rest_api.errors import status_of
from tests.fakes import FakeRuntime, FakeS3
from videohook import idempotency, job_reads, uploads
from videohook.config import Settings
from videohook.errors import DomainError, InvalidInput
from videohook.models import CreateUploadRequest, Job, JobStatus, ProviderName
from videohook.request_rules import storable_number

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


# ---- metadata numbers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "storable"),
    [
        (0, True),
        (42, True),
        (10**37, True),
        (123456789012345678901234567890123456789, False),  # 39 significant digits
        (10**125, True),
        (10**126, False),
        (0.5, True),
        (1e-130, True),
        (1e-300, False),
        (1e300, False),
        (float("inf"), False),
        (float("nan"), False),
    ],
)
def test_metadata_numbers_must_fit_dynamodb(number: float, storable: bool) -> None:
    assert storable_number(number) is storable


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


# ---- uploads ---------------------------------------------------------------------------


def upload_runtime(s3: FakeS3) -> Any:
    return SimpleNamespace(settings=Settings(video_bucket="videos-bucket"), s3=s3)


def test_an_upload_is_a_presigned_put_under_the_tenants_prefix() -> None:
    s3 = FakeS3()
    upload = uploads.create_upload(
        upload_runtime(s3), CreateUploadRequest(content_type="image/webp", bytes=5000), tenant_id="key_a"
    )
    ((operation, params, ttl),) = s3.presigned
    assert operation == "put_object"
    assert params == {
        "Bucket": "videos-bucket",
        "Key": f"uploads/key_a/{upload.upload_id}",
        "ContentType": "image/webp",
    }
    assert upload.headers == {"Content-Type": "image/webp"} and upload.method == "PUT"
    assert ttl == Settings().upload_url_ttl_seconds
    assert timedelta(0) < upload.expires_at - datetime.now(UTC) <= timedelta(seconds=ttl)


def test_an_uploaded_image_is_given_to_the_provider_as_a_presigned_get() -> None:
    s3 = FakeS3({"ContentLength": 1234})
    url = uploads.uploaded_image_url(upload_runtime(s3), "key_a", "upl_" + "1" * 26)
    assert url == f"https://s3.example/uploads/key_a/upl_{'1' * 26}?signed"
    assert s3.presigned[0][0] == "get_object"


@pytest.mark.parametrize(
    ("head", "code"),
    [
        (ClientError({"Error": {"Code": "404"}}, "HeadObject"), "upload_not_found"),
        ({"ContentLength": 20 * 1024 * 1024 + 1}, "image_too_large"),
        ({"ContentLength": 0}, "invalid_image"),
    ],
)
def test_an_upload_that_is_missing_or_too_large_is_refused(head: Any, code: str) -> None:
    s3 = FakeS3(head)
    with pytest.raises(InvalidInput) as raised:
        uploads.uploaded_image_url(upload_runtime(s3), "key_a", "upl_" + "1" * 26)
    assert (status_of(raised.value), raised.value.code, raised.value.field) == (400, code, "image.upload_id")
    assert s3.presigned == []


# ---- the idempotent wait ----------------------------------------------------------------


class ScriptedRun:
    """Stands in for Powertools' idempotent_function: each call takes the next outcome."""

    def __init__(self, outcomes: list[Any]) -> None:
        self.outcomes = outcomes
        self.payloads: list[dict[str, Any]] = []

    def __call__(self, function: Any, **options: Any) -> Any:
        assert options["data_keyword_argument"] == "submission"
        assert options["key_prefix"] == "videohook.create_video"
        config = options["config"]
        assert (config.event_key_jmespath, config.payload_validation_jmespath) == (
            "[tenant_id, key]",
            "request",
        )

        def run(*, submission: dict[str, Any], start: Any) -> dict[str, str]:
            self.payloads.append(submission)
            outcome = self.outcomes.pop(0)
            if isinstance(outcome, Exception):
                raise outcome
            return function(submission=submission, start=start) if outcome == "run" else {"job_id": outcome}

        return run


@pytest.fixture
def idem_runtime() -> Any:
    return SimpleNamespace(settings=Settings(), idempotency_store=object())


def once(runtime: Any, sleeps: list[float], max_wait: float = 5.0) -> str:
    return idempotency.once(
        runtime,
        tenant_id="key_a",
        key="order-42",
        request={"prompt": "a heron"},
        start=lambda: "vid_new",
        max_wait_seconds=max_wait,
        sleep=sleeps.append,
    )


def test_the_first_request_runs_the_submit(monkeypatch: pytest.MonkeyPatch, idem_runtime: Any) -> None:
    scripted = ScriptedRun(["run"])
    monkeypatch.setattr(idempotency, "idempotent_function", scripted)
    assert once(idem_runtime, []) == "vid_new"
    assert scripted.payloads == [{"tenant_id": "key_a", "key": "order-42", "request": {"prompt": "a heron"}}]


def test_a_duplicate_in_progress_waits_then_answers_the_stored_job(
    monkeypatch: pytest.MonkeyPatch, idem_runtime: Any
) -> None:
    busy = IdempotencyAlreadyInProgressError("in progress")
    monkeypatch.setattr(idempotency, "idempotent_function", ScriptedRun([busy, busy, busy, "vid_first"]))
    sleeps: list[float] = []
    assert once(idem_runtime, sleeps) == "vid_first"
    assert sleeps == [0.05, 0.1, 0.2]


def test_the_wait_is_bounded(monkeypatch: pytest.MonkeyPatch, idem_runtime: Any) -> None:
    busy = IdempotencyAlreadyInProgressError("in progress")
    monkeypatch.setattr(idempotency, "idempotent_function", ScriptedRun([busy] * 1000))
    sleeps: list[float] = []
    with pytest.raises(idempotency.StillInProgress):
        once(idem_runtime, sleeps, max_wait=0.0)
    assert sleeps == []


def test_another_body_is_key_reused(monkeypatch: pytest.MonkeyPatch, idem_runtime: Any) -> None:
    monkeypatch.setattr(idempotency, "idempotent_function", ScriptedRun([IdempotencyValidationError("x")]))
    with pytest.raises(idempotency.KeyReused):
        once(idem_runtime, [])
