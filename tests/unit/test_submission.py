"""submit.submit_job / poll_job and helpers against a fake runtime (no AWS, no HTTP, no sleeping)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from handlers.rest_api.errors import answer_domain_error, headers_of, status_of
from tests.fakes import ALL_KEYS, STATE_MACHINE_ARN, FakeRuntime
from videohook import job_ids, submit, wait_policy, workflow_steps
from videohook.config import MIN_JOB_DEADLINE_SECONDS, Settings
from videohook.errors import DomainError, ProviderRefused, ProviderUnavailable
from videohook.models import (
    CreateVideoRequest,
    Job,
    JobError,
    JobStatus,
    PollResult,
    ProviderName,
    WorkflowInput,
    utc_now,
)
from videohook.providers.base import (
    GenerationRequest,
    ProviderAuthError,
    ProviderError,
    ProviderJobState,
    ProviderMalformed,
    ProviderRejected,
    ProviderTimeout,
    ProviderTransient,
    ProviderUnsupported,
)
from videohook.request_rules import MAX_IMAGE_BYTES, MAX_METADATA_BYTES
from videohook.submit_checks import prepare

PNG_DATA_URI = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
PUBLIC_WEBHOOK = "https://93.184.215.14/hooks/videohook"  # a public IP literal: no DNS lookup


@pytest.fixture
def runtime() -> FakeRuntime:
    return FakeRuntime()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    delays: list[float] = []
    monkeypatch.setattr(submit.time, "sleep", delays.append)
    return delays


def request(**values: Any) -> CreateVideoRequest:
    return CreateVideoRequest(**{"prompt": "a red fox running through snow", **values})


# ---- submit: rejections that need runtime state -------------------------------------
# (The request rules of the models are tested through the handler: tests/unit/test_api_handler.py.)

RUNTIME_REJECTIONS: list[tuple[str, dict[str, Any], int, str, str]] = [
    ("1080p default model", {"resolution": "1080p"}, 400, "unsupported_resolution", "resolution"),
    (
        "reference images on default (sandbox speaking xai)",
        {"reference_images": ["https://example.com/b.png"]},
        400,
        "unsupported_by_provider",
        "reference_images",
    ),
    (
        "reference images on xai",
        {"provider": "xai", "reference_images": ["https://example.com/b.png"]},
        400,
        "unsupported_by_provider",
        "reference_images",
    ),
    (
        "reference images on cometapi",
        {"provider": "cometapi", "reference_images": ["https://example.com/b.png"]},
        400,
        "unsupported_by_provider",
        "reference_images",
    ),
    (
        "webhook to private ip",
        {"webhook_url": "https://10.0.0.7/hook"},
        400,
        "invalid_webhook_url",
        "webhook_url",
    ),
    (
        "webhook to 192.168",
        {"webhook_url": "https://192.168.1.20/hook"},
        400,
        "invalid_webhook_url",
        "webhook_url",
    ),
    (
        "webhook to loopback",
        {"webhook_url": "https://127.0.0.1:9000/hook"},
        400,
        "invalid_webhook_url",
        "webhook_url",
    ),
    (
        "webhook to metadata service",
        {"webhook_url": "https://169.254.169.254/latest"},
        400,
        "invalid_webhook_url",
        "webhook_url",
    ),
    (
        "webhook over http",
        {"webhook_url": "http://93.184.215.14/hook"},
        400,
        "invalid_webhook_url",
        "webhook_url",
    ),
]


@pytest.mark.parametrize(
    ("values", "status", "code", "field"),
    [
        pytest.param(values, status, code, field, id=name)
        for name, values, status, code, field in RUNTIME_REJECTIONS
    ],
)
def test_submit_rejections(
    runtime: FakeRuntime, values: dict[str, Any], status: int, code: str, field: str
) -> None:
    with pytest.raises(DomainError) as caught:
        submit.submit_job(runtime, request(**values), tenant_id="key_t")
    error = caught.value
    assert (status_of(error), error.code, error.field) == (status, code, field)
    assert error.message
    assert answer_domain_error(error).body == {
        "error": {"code": code, "message": error.message, "field": field}
    }
    assert runtime.log == [], "nothing may be stored, submitted or started for a rejected request"
    assert runtime.store.jobs == {}


@pytest.mark.parametrize(
    ("provider", "status"),
    [(ProviderName.COMETAPI, 400), (ProviderName.AIMLAPI, 400), (None, 503)],
)
def test_unconfigured_provider_key(provider: ProviderName | None, status: int) -> None:
    # 400 when the caller named the provider, 503 when it is the deployment's default (sandbox).
    missing = provider or ProviderName.SANDBOX
    runtime = FakeRuntime(keys={p: k for p, k in ALL_KEYS.items() if p is not missing})
    values = {"provider": provider.value} if provider else {}
    with pytest.raises(DomainError) as caught:
        submit.submit_job(runtime, request(**values), tenant_id="key_t")
    assert (status_of(caught.value), caught.value.code, caught.value.field) == (
        status,
        "provider_not_configured",
        "provider",
    )
    assert missing.value in caught.value.message
    assert runtime.log == []


def test_metadata_limit_boundary(runtime: FakeRuntime) -> None:
    overhead = len(json.dumps({"blob": ""}))
    at_limit = {"blob": "x" * (MAX_METADATA_BYTES - overhead)}
    assert len(json.dumps(at_limit)) == MAX_METADATA_BYTES
    submit.submit_job(runtime, request(metadata=at_limit), tenant_id="key_t")
    over = {"blob": "x" * (MAX_METADATA_BYTES - overhead + 1)}
    with pytest.raises(ValidationError) as caught:
        request(metadata=over)
    assert caught.value.errors()[0]["type"] == "metadata_too_large"


def test_data_uri_at_the_size_limit_is_accepted(runtime: FakeRuntime) -> None:
    uri = "data:image/png;base64," + "A" * (MAX_IMAGE_BYTES // 3 * 4)
    submit.submit_job(runtime, request(image={"url": uri}), tenant_id="key_t")
    assert len(runtime.calls("adapter.submit")) == 1


def test_1080p_allowed_on_the_newer_model(runtime: FakeRuntime) -> None:
    job = submit.submit_job(
        runtime, request(model="grok-imagine-video-1.5", resolution="1080p"), tenant_id="t"
    )
    assert job.resolution == "1080p" and job.model == "grok-imagine-video-1.5"


def test_reference_images_allowed_when_the_sandbox_speaks_aimlapi() -> None:
    runtime = FakeRuntime(
        Settings(state_machine_arn=STATE_MACHINE_ARN, sandbox_contract=ProviderName.AIMLAPI)
    )
    refs = ["https://example.com/a.png", "https://example.com/b.png"]
    job = submit.submit_job(runtime, request(reference_images=refs), tenant_id="key_t")
    assert job.reference_images == refs
    (sent,) = runtime.calls("adapter.submit")
    assert sent.reference_images == tuple(refs)


# ---- submit: happy path -------------------------------------------------------------


def test_submit_happy_path(runtime: FakeRuntime) -> None:
    before = utc_now()
    job = submit.submit_job(
        runtime,
        request(
            duration=5,
            resolution="480p",
            aspect_ratio="9:16",
            image={"url": PNG_DATA_URI},
            user="end-user-1",
            webhook_url=PUBLIC_WEBHOOK,
            metadata={"order": 7, "ratio": 0.5},
        ),
        tenant_id="key_tenant",
    )
    assert runtime.names() == [
        "store.create",
        "runtime.adapter",
        "adapter.submit",
        "store.update",
        "sfn.start_execution",
        "store.end_submission",  # leaves the reconciler's index
        "sns.publish",  # video.queued
        "events.put_events",
        "sfn.start_execution",  # its webhook delivery
    ]
    (created,) = runtime.calls("store.create")
    assert created.id == job.id
    assert created.status is JobStatus.QUEUED
    assert created.provider_request_id is None  # recorded before the paid provider call
    assert created.submission == "in_progress"
    assert created.tenant_id == "key_tenant"
    assert created.provider is ProviderName.SANDBOX
    assert created.model == "grok-imagine-video"
    assert created.metadata == {"order": 7, "ratio": 0.5}
    assert created.webhook_url == PUBLIC_WEBHOOK
    # The data URI goes to the provider but is not kept in the record.
    assert created.image is not None
    assert created.image.url.startswith("data:image/png;base64,") and "iVBOR" not in created.image.url
    assert before <= created.created_at <= utc_now()
    assert created.deadline_at - created.created_at == timedelta(
        seconds=runtime.settings.job_deadline_seconds
    )

    assert runtime.calls("runtime.adapter") == [ProviderName.SANDBOX]
    (sent,) = runtime.calls("adapter.submit")
    assert sent == GenerationRequest(
        prompt="a red fox running through snow",
        model="grok-imagine-video",
        duration=5,
        resolution="480p",
        aspect_ratio="9:16",
        image_url=PNG_DATA_URI,
        user="end-user-1",
        # The sandbox speaks the xAI contract, which takes output.upload_url: zero-copy.
        upload_url=f"https://videos.s3.invalid/incoming/key_tenant/{job.id}.mp4?X-Amz-Expires="
        f"{runtime.settings.job_deadline_seconds + 300}",
    )

    (updated,) = runtime.calls("store.update")
    assert updated.id == job.id and updated.provider_request_id == "req-123"
    assert updated.updated_at >= created.updated_at

    started, delivery = runtime.calls("sfn.start_execution")
    assert delivery["name"].startswith("evt_") and delivery["name"].endswith("_queued")
    assert started["name"] == job.id
    assert started["stateMachineArn"] == STATE_MACHINE_ARN
    assert json.loads(started["input"]) == {
        "job_id": job.id,
        "wait_seconds": wait_policy.first_wait_seconds(5, "480p"),
    }

    assert job.provider_request_id == "req-123"
    assert runtime.store.jobs[job.id].provider_request_id == "req-123"


def test_submit_uses_named_provider_and_time_scale() -> None:
    runtime = FakeRuntime(Settings(state_machine_arn=STATE_MACHINE_ARN, time_scale=0.01))
    job = submit.submit_job(runtime, request(provider="aimlapi"), tenant_id="key_t")
    assert runtime.calls("runtime.adapter") == [ProviderName.AIMLAPI]
    assert job.provider is ProviderName.AIMLAPI
    assert job.deadline_at - job.created_at == timedelta(seconds=36)
    (started,) = runtime.calls("sfn.start_execution")
    assert json.loads(started["input"])["wait_seconds"] == wait_policy.first_wait_seconds(None, None)


# ---- submit: provider errors ---------------------------------------------------------


@pytest.mark.parametrize(
    ("errors", "status", "code", "field", "headers", "attempts"),
    [
        pytest.param(
            [ProviderRejected("prompt refused", status_code=422)],
            400,
            "provider_rejected",
            None,
            {},
            1,
            id="rejected",
        ),
        pytest.param(
            [ProviderUnsupported("no refs here", field="reference_images")],
            400,
            "unsupported_by_provider",
            "reference_images",
            {},
            1,
            id="unsupported",
        ),
        pytest.param(
            [ProviderAuthError("bad key", status_code=401)],
            502,
            "provider_auth_failed",
            None,
            {},
            1,
            id="auth",
        ),
        pytest.param(
            [ProviderTransient("busy", status_code=429, retry_after=2.5)] * submit.SUBMIT_ATTEMPTS,
            503,
            "provider_unavailable",
            None,
            {"Retry-After": "3"},
            submit.SUBMIT_ATTEMPTS,
            id="transient-retry-after",
        ),
        pytest.param(
            [ProviderTransient("down", status_code=503)] * submit.SUBMIT_ATTEMPTS,
            503,
            "provider_unavailable",
            None,
            {},
            submit.SUBMIT_ATTEMPTS,
            id="transient",
        ),
    ],
)
def test_submit_provider_errors(
    runtime: FakeRuntime,
    sleeps: list[float],
    errors: list[ProviderError],
    status: int,
    code: str,
    field: str | None,
    headers: dict[str, str],
    attempts: int,
) -> None:
    runtime._adapter.submit_outcomes = list(errors)
    with pytest.raises(DomainError) as caught:
        submit.submit_job(runtime, request(), tenant_id="key_t")
    error = caught.value
    assert (status_of(error), error.code, error.field) == (status, code, field)
    assert headers_of(error) == headers
    assert "key-" not in error.message
    assert len(runtime.calls("adapter.submit")) == attempts
    assert len(sleeps) == attempts - 1
    (created,) = runtime.calls("store.create")
    assert runtime.calls("store.delete") == [created.id]
    assert runtime.store.jobs == {}
    assert runtime.calls("store.update") == []
    assert runtime.calls("sfn.start_execution") == []


def test_transient_submit_errors_are_retried_then_succeed(runtime: FakeRuntime, sleeps: list[float]) -> None:
    runtime._adapter.submit_outcomes = [
        ProviderTransient("busy", status_code=429, retry_after=2),
        ProviderTransient("reset"),
        "req-after-retries",
    ]
    job = submit.submit_job(runtime, request(), tenant_id="key_t")
    assert job.provider_request_id == "req-after-retries"
    assert len(runtime.calls("adapter.submit")) == 3
    assert len(sleeps) == 2
    assert 1.0 <= sleeps[0] <= 2.0  # retry_after 2 s with 50-100% jitter
    assert 1.0 <= sleeps[1] <= 2.0  # backoff 0.5 * 2**2 = 2 s with jitter
    assert runtime.calls("store.delete") == []
    assert len(runtime.calls("sfn.start_execution")) == 1


def test_submit_retry_delays_are_capped_and_scaled(
    sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(submit.random, "uniform", lambda low, high: high)
    runtime = FakeRuntime(Settings(state_machine_arn=STATE_MACHINE_ARN, time_scale=0.5))
    runtime._adapter.submit_outcomes = [
        ProviderTransient("slow down", retry_after=600)
    ] * submit.SUBMIT_ATTEMPTS
    with pytest.raises(ProviderUnavailable) as caught:
        submit.submit_job(runtime, request(), tenant_id="key_t")
    assert sleeps == [pytest.approx(2.5)] * (submit.SUBMIT_ATTEMPTS - 1)  # min(600, 5) * 1.0 * 0.5
    assert headers_of(caught.value) == {"Retry-After": "600"}


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ProviderTimeout("sandbox sent no answer (ReadTimeout)"), "provider_submit_timeout"),
        (ProviderMalformed("not json", status_code=200), "provider_malformed_response"),
    ],
)
def test_a_submit_the_provider_may_have_accepted_is_not_retried_but_failed_and_announced(
    runtime: FakeRuntime, sleeps: list[float], error: ProviderError, code: str
) -> None:
    runtime._adapter.submit_outcomes = [error, "req-never"]
    job = submit.submit_job(runtime, request(), tenant_id="key_t")
    assert len(runtime.calls("adapter.submit")) == 1  # never a second, possibly paid, job
    assert sleeps == []
    assert job.status is JobStatus.FAILED and job.error is not None
    assert job.error.code == code
    assert "did not submit it again" in job.error.message and "key-" not in job.error.message
    assert runtime.calls("store.delete") == []  # the record stays: a job may exist at the provider
    stored = runtime.store.get(job.id)
    assert stored.status is JobStatus.FAILED and stored.submission is None
    # Its workflow announces the failure at once (the first poll finds the job terminal).
    (start,) = runtime.calls("sfn.start_execution")
    assert start["name"] == job.id and json.loads(start["input"])["wait_seconds"] == 0
    assert runtime.calls("sns.publish") == []  # no video.queued for a job that never was


def start_with_key(runtime: FakeRuntime, key: str) -> Job:
    """What create_job's idempotent unit runs for `key` (the Powertools record aside)."""
    prepared = prepare(runtime, request(), tenant_id="key_t")
    return submit._start_job(runtime, request(), prepared, tenant_id="key_t", idempotency_key=key)


def test_a_retry_with_the_key_after_a_crash_before_start_execution_resumes_the_same_job(
    runtime: FakeRuntime,
) -> None:
    runtime.sfn.crash = RuntimeError("the Lambda died")
    with pytest.raises(RuntimeError):
        start_with_key(runtime, "order-1")
    (created,) = runtime.calls("store.create")
    assert runtime.store.get(created.id).provider_request_id == "req-123"
    assert runtime.store.get(created.id).submission == "in_progress"

    job = start_with_key(runtime, "order-1")
    assert job.id == created.id
    assert len(runtime.calls("adapter.submit")) == 1
    assert len(runtime.calls("store.create")) == 1
    assert [start["name"] for start in runtime.calls("sfn.start_execution")] == [job.id]
    assert runtime.store.get(job.id).submission is None
    # Another key is another job.
    other = start_with_key(runtime, "order-2")
    assert other.id != job.id and len(runtime.calls("adapter.submit")) == 2


def test_a_retry_after_the_provider_refused_submits_again_under_the_same_job_id(
    runtime: FakeRuntime, sleeps: list[float]
) -> None:
    runtime._adapter.submit_outcomes = [ProviderRejected("no", status_code=422)]
    with pytest.raises(ProviderRefused):
        start_with_key(runtime, "k")
    job = start_with_key(runtime, "k")
    assert job.status is JobStatus.QUEUED and job.provider_request_id == "req-123"
    (first, second) = runtime.calls("store.create")
    assert first.id == second.id == job.id  # the refused attempt left nothing but the claim


@pytest.mark.parametrize(
    ("request_id", "status", "code", "wait"),
    [("req-9", JobStatus.QUEUED, None, 0), (None, JobStatus.FAILED, "submission_interrupted", 0)],
)
def test_the_reconciler_resumes_or_fails_old_unfinished_submits_and_leaves_young_ones(
    runtime: FakeRuntime, request_id: str | None, status: JobStatus, code: str | None, wait: int
) -> None:
    now = datetime.now(UTC)
    grace = timedelta(seconds=runtime.settings.submission_grace)
    old, young = (
        Job(
            id=f"vid_{name}",
            tenant_id="key_t",
            provider=ProviderName.SANDBOX,
            prompt="p",
            provider_request_id=request_id,
            created_at=now - age,
            updated_at=now - age,
            deadline_at=now + timedelta(hours=1),
            submission="in_progress",
        )
        for name, age in (("old", grace + timedelta(seconds=1)), ("young", grace - timedelta(seconds=5)))
    )
    done = old.model_copy(update={"id": "vid_done", "submission": None})
    for job in (old, young, done):
        runtime.store.jobs[job.id] = job

    report = submit.reconcile_submissions(runtime, now=now)

    assert report.examined == 1
    assert (report.resumed, report.failed) == ((["vid_old"], []) if code is None else ([], ["vid_old"]))
    stored = runtime.store.get("vid_old")
    assert stored.status is status and stored.submission is None
    assert (stored.error.code if stored.error else None) == code
    (start,) = runtime.calls("sfn.start_execution")
    assert start["name"] == "vid_old" and json.loads(start["input"])["wait_seconds"] == wait
    assert runtime.store.get("vid_young").submission == "in_progress"
    assert runtime.calls("adapter.submit") == []  # never resubmitted


def test_resuming_a_submit_whose_execution_already_started_is_harmless(runtime: FakeRuntime) -> None:
    job = submit.submit_job(runtime, request(), tenant_id="key_t")
    stored = runtime.store.get(job.id)
    stored.submission = "in_progress"  # as if the end of the submit was never recorded
    runtime.store.jobs[job.id] = stored
    resumed = submit.resume_submission(runtime, stored)
    assert resumed.id == job.id and runtime.store.get(job.id).submission is None
    assert len(runtime.calls("sfn.start_execution")) == 2  # the second was told it exists


def test_submit_errors_other_than_provider_errors_propagate(runtime: FakeRuntime) -> None:
    runtime._adapter.submit_outcomes = [RuntimeError("bug")]
    with pytest.raises(RuntimeError):
        submit.submit_job(runtime, request(), tenant_id="key_t")
    assert runtime.calls("sfn.start_execution") == []


# ---- new_job_id ----------------------------------------------------------------------

JOB_ID = re.compile(r"^vid_[0-9a-hjkmnp-tv-z]{26}$")


def test_new_job_id_format() -> None:
    ids = {job_ids.new_job_id() for _ in range(500)}
    assert len(ids) == 500
    for job_id in ids:
        assert JOB_ID.match(job_id), job_id


def test_new_job_id_is_sortable_by_creation_time() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    times = [start + timedelta(milliseconds=ms) for ms in (0, 1, 2, 999, 1000, 86_400_000, 10**11)]
    ids = [job_ids.new_job_id(t) for t in times]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_new_job_id_encodes_the_millisecond_timestamp() -> None:
    when = datetime(2025, 6, 30, 8, 15, 0, 250000, tzinfo=UTC)
    body = job_ids.new_job_id(when).removeprefix("vid_").upper()
    value = 0
    for char in body:
        value = value * 32 + job_ids.CROCKFORD.index(char)
    assert value >> 80 == int(when.timestamp() * 1000)


# ---- _error_code ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("VideoDownloadIncomplete", "download_incomplete"),
        ("VideoDownloadFailed", "download_failed"),
        ("VideoNotMp4", "not_mp4"),
        ("VideoUploadFailed", "upload_failed"),
        ("States.Timeout", "workflow_timeout"),
        ("States.TaskFailed", "workflow_task_failed"),
        ("SomethingElse", "something_else"),
        ("ValueError", "value_error"),
        ("", "internal_error"),
    ],
)
def test_error_code(name: str, code: str) -> None:
    assert workflow_steps._error_code(name) == code


SNAKE_CASE = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)*$")


@pytest.mark.parametrize("name", ["Lambda.ServiceException", "Sandbox.Timedout", "Runtime.ImportModuleError"])
def test_error_code_of_dotted_lambda_errors_is_snake_case(name: str) -> None:
    assert SNAKE_CASE.match(workflow_steps._error_code(name)), workflow_steps._error_code(name)


@pytest.mark.parametrize(
    ("name", "code"), [("JSONDecodeError", "json_decode_error"), ("HTTPStatusError", "http_status_error")]
)
def test_error_code_of_acronyms(name: str, code: str) -> None:
    assert workflow_steps._error_code(name) == code


# ---- poll_job ------------------------------------------------------------------------


def running_job(runtime: FakeRuntime, **overrides: Any) -> Job:
    now = utc_now()
    values: dict[str, Any] = {
        "id": "vid_poll",
        "tenant_id": "key_t",
        "provider": ProviderName.XAI,
        "prompt": "p",
        "status": JobStatus.RUNNING,
        "provider_request_id": "req-1",
        "duration": 8,
        "created_at": now - timedelta(seconds=30),
        "updated_at": now - timedelta(seconds=5),
        "deadline_at": now + timedelta(hours=1),
    }
    values.update(overrides)
    job = Job(**values)
    runtime.store.jobs[job.id] = job.model_copy(deep=True)
    return job


def poll(runtime: FakeRuntime, job_id: str = "vid_poll") -> PollResult:
    result, _ = workflow_steps.poll_job(runtime, WorkflowInput(job_id=job_id, wait_seconds=5))
    return result


def test_poll_after_deadline_expires_the_job(runtime: FakeRuntime) -> None:
    running_job(runtime, deadline_at=utc_now() - timedelta(seconds=1))
    result = poll(runtime)
    assert (result.status, result.wait_seconds) == (JobStatus.EXPIRED, 0)
    stored = runtime.store.jobs["vid_poll"]
    assert stored.status is JobStatus.EXPIRED
    assert stored.error is not None and stored.error.code == "deadline_exceeded"
    assert stored.completed_at is not None
    assert runtime.calls("adapter.poll") == [] and runtime.calls("runtime.adapter") == []


def test_poll_provider_done_hands_over_to_finalize(runtime: FakeRuntime) -> None:
    running_job(runtime, progress=40)
    runtime._adapter.poll_outcomes = [
        ProviderJobState(status=JobStatus.SUCCEEDED, progress=100, video_url="https://cdn.invalid/v.mp4")
    ]
    result = poll(runtime)
    assert result.status is JobStatus.SUCCEEDED
    assert runtime.calls("adapter.poll") == ["req-1"]
    stored = runtime.store.jobs["vid_poll"]
    assert stored.status is JobStatus.RUNNING  # not succeeded until the copy to S3 is done
    assert stored.provider_video_url == "https://cdn.invalid/v.mp4"
    assert stored.progress == 100
    assert stored.poll_count == 1
    assert stored.completed_at is None


@pytest.mark.parametrize(
    ("provider_error", "expected"),
    [
        (
            JobError(code="content_policy", message="the prompt was moderated"),
            JobError(code="content_policy", message="the prompt was moderated"),
        ),
        (None, JobError(code="provider_failed", message="the provider reported a failure")),
    ],
)
def test_poll_provider_failed(
    runtime: FakeRuntime, provider_error: JobError | None, expected: JobError
) -> None:
    running_job(runtime)
    runtime._adapter.poll_outcomes = [ProviderJobState(status=JobStatus.FAILED, error=provider_error)]
    result = poll(runtime)
    assert result.status is JobStatus.FAILED
    stored = runtime.store.jobs["vid_poll"]
    assert stored.status is JobStatus.FAILED
    assert stored.error == expected
    assert stored.completed_at is not None


def test_poll_running_progress_drives_the_wait(runtime: FakeRuntime) -> None:
    # The policy's numbers are tested in tests/unit/test_wait_policy.py: here, that progress reaches it.
    running_job(runtime)  # created 30 s ago
    runtime._adapter.poll_outcomes = [ProviderJobState(status=JobStatus.RUNNING, progress=50)]
    result = poll(runtime)
    assert result.status is JobStatus.RUNNING
    assert runtime.store.jobs["vid_poll"].progress == 50
    running_job(runtime)
    runtime._adapter.poll_outcomes = [ProviderJobState(status=JobStatus.RUNNING, progress=95)]
    assert poll(runtime).wait_seconds < result.wait_seconds


def test_poll_progress_never_goes_backwards(runtime: FakeRuntime) -> None:
    running_job(runtime, progress=60)
    runtime._adapter.poll_outcomes = [ProviderJobState(status=JobStatus.RUNNING, progress=20)]
    poll(runtime)
    assert runtime.store.jobs["vid_poll"].progress == 60


def test_poll_malformed_ten_times_in_a_row_fails_the_job(runtime: FakeRuntime) -> None:
    running_job(runtime)
    limit = workflow_steps.MAX_CONSECUTIVE_POLL_ERRORS
    assert limit == 10
    runtime._adapter.poll_outcomes = [ProviderMalformed("not json", status_code=200) for _ in range(limit)]
    for attempt in range(1, limit):
        result = poll(runtime)
        assert result.status is JobStatus.RUNNING, attempt
        assert runtime.store.jobs["vid_poll"].consecutive_poll_errors == attempt
    result = poll(runtime)
    assert result.status is JobStatus.FAILED
    stored = runtime.store.jobs["vid_poll"]
    assert stored.error is not None and stored.error.code == "provider_malformed_response"
    assert stored.poll_count == limit


def test_poll_a_good_answer_resets_the_malformed_count(runtime: FakeRuntime) -> None:
    running_job(runtime)
    limit = workflow_steps.MAX_CONSECUTIVE_POLL_ERRORS
    runtime._adapter.poll_outcomes = (
        [ProviderMalformed("x")] * (limit - 1)
        + [ProviderJobState(status=JobStatus.RUNNING)]
        + [ProviderMalformed("x")] * (limit - 1)
    )
    for _ in range(2 * limit - 1):
        assert poll(runtime).status is JobStatus.RUNNING
    assert runtime.store.jobs["vid_poll"].consecutive_poll_errors == limit - 1


def test_poll_plain_transient_errors_never_fail_the_job(runtime: FakeRuntime) -> None:
    running_job(runtime)
    runtime._adapter.poll_outcomes = [ProviderTransient("503")] * 12
    for _ in range(12):
        assert poll(runtime).status is JobStatus.RUNNING
    assert runtime.store.jobs["vid_poll"].consecutive_poll_errors == 12


@pytest.mark.parametrize(
    ("retry_after", "at_least"), [(7.0, 7), (0.0, wait_policy.MIN_WAIT_SECONDS), (3600.0, 300)]
)
def test_poll_transient_retry_after_is_honoured(
    runtime: FakeRuntime, retry_after: float, at_least: int
) -> None:
    running_job(runtime)
    runtime._adapter.poll_outcomes = [ProviderTransient("429", status_code=429, retry_after=retry_after)]
    result = poll(runtime)
    assert result.status is JobStatus.RUNNING
    # Never sooner than the provider allows (up to wait_policy.MAX_RETRY_AFTER_SECONDS).
    assert at_least <= result.wait_seconds <= max(at_least, wait_policy.MAX_WAIT_SECONDS)
    assert runtime.store.jobs["vid_poll"].consecutive_poll_errors == 1


@pytest.mark.parametrize(
    ("error", "code"),
    [(ProviderAuthError("401"), "provider_auth_failed"), (ProviderRejected("400"), "provider_rejected")],
)
def test_poll_permanent_provider_errors_fail_the_job(
    runtime: FakeRuntime, error: ProviderError, code: str
) -> None:
    running_job(runtime)
    runtime._adapter.poll_outcomes = [error]
    assert poll(runtime).status is JobStatus.FAILED
    stored = runtime.store.jobs["vid_poll"]
    assert stored.error is not None and stored.error.code == code


def test_poll_with_missing_provider_key_fails_the_job(runtime: FakeRuntime) -> None:
    running_job(runtime)
    runtime.keys.pop(ProviderName.XAI)
    assert poll(runtime).status is JobStatus.FAILED
    stored = runtime.store.jobs["vid_poll"]
    assert stored.error is not None and stored.error.code == "provider_not_configured"


@pytest.mark.parametrize("terminal", [JobStatus.CANCELED, JobStatus.SUCCEEDED, JobStatus.FAILED])
def test_poll_of_a_terminal_job_does_not_call_the_provider(runtime: FakeRuntime, terminal: JobStatus) -> None:
    running_job(runtime, status=terminal, deadline_at=utc_now() - timedelta(seconds=1))
    result = poll(runtime)
    assert (result.status, result.wait_seconds) == (terminal, 0)
    assert runtime.log == []
    assert runtime.store.jobs["vid_poll"].status is terminal


def test_poll_loses_the_race_against_a_cancel(runtime: FakeRuntime) -> None:
    running_job(runtime)

    def cancel_first(job: Job) -> None:
        runtime.store.jobs[job.id] = runtime.store.jobs[job.id].model_copy(
            update={"status": JobStatus.CANCELED}
        )

    runtime.store.before_update = cancel_first
    runtime._adapter.poll_outcomes = [
        ProviderJobState(status=JobStatus.SUCCEEDED, video_url="https://cdn.invalid/v.mp4")
    ]
    result = poll(runtime)
    assert result.status is JobStatus.CANCELED
    assert runtime.store.jobs["vid_poll"].provider_video_url is None


def test_a_cancel_during_submit_wins_and_the_job_starts_no_execution(runtime: FakeRuntime) -> None:
    def cancel_now(job: Job) -> None:
        stored = runtime.store.jobs[job.id]
        runtime.store.jobs[job.id] = stored.model_copy(update={"status": JobStatus.CANCELED})

    runtime.store.before_update = cancel_now
    job = submit.submit_job(runtime, request(), tenant_id="key_a")
    assert job.status is JobStatus.CANCELED
    assert "adapter.submit" in runtime.names()
    assert "sfn.start_execution" not in runtime.names()


# ---- the job deadline ------------------------------------------------------------------


def test_a_tiny_time_scale_keeps_the_job_deadline_above_its_floor() -> None:
    # 3600 s at 0.0002 would be 0.72 s: every job would expire before its provider answers.
    settings = Settings(state_machine_arn=STATE_MACHINE_ARN, time_scale=0.0002)
    assert settings.job_deadline == MIN_JOB_DEADLINE_SECONDS
    job = submit.submit_job(FakeRuntime(settings), request(), tenant_id="key_t")
    assert job.deadline_at - job.created_at == timedelta(seconds=MIN_JOB_DEADLINE_SECONDS)
    assert Settings(time_scale=0.01).job_deadline == 36  # above the floor: scaled as before
