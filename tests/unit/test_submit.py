"""videohook.submit: submit_job, the idempotent start, the reconciler and the job deadline, against a
fake runtime (no AWS, no HTTP, no sleeping)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from handlers.rest_api.errors import headers_of, status_of
from tests.fakes import PNG_DATA_URI, STATE_MACHINE_ARN, FakeRuntime, video_request
from videohook import submit, wait_policy
from videohook.config import MIN_JOB_DEADLINE_SECONDS, Settings
from videohook.errors import DomainError, ProviderRefused, ProviderUnavailable
from videohook.models import Job, JobStatus, ProviderName, utc_now
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
from videohook.submit_checks import prepare

PUBLIC_WEBHOOK = "https://93.184.215.14/hooks/videohook"  # a public IP literal: no DNS lookup


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    delays: list[float] = []
    monkeypatch.setattr(submit.time, "sleep", delays.append)
    return delays


# ---- submit: happy path -------------------------------------------------------------


def test_submit_happy_path(runtime: FakeRuntime) -> None:
    before = utc_now()
    job = submit.submit_job(
        runtime,
        video_request(
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
        "sns.publish",  # video.running: accepted, the job runs
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
    # Accepted: running, with the forecast that planned the first poll as its expected end.
    first = wait_policy.first_plan(5, "480p")
    assert job.status is JobStatus.RUNNING and runtime.store.jobs[job.id].status is JobStatus.RUNNING
    assert job.estimated_done_at == job.created_at + timedelta(seconds=first.done_seconds)
    assert runtime.store.jobs[job.id].estimated_done_at == job.estimated_done_at
    assert first.done_seconds > first.wait_seconds

    started, queued, running = runtime.calls("sfn.start_execution")
    assert queued["name"] == f"evt_{job.id.removeprefix('vid_')}_queued"
    assert running["name"] == f"evt_{job.id.removeprefix('vid_')}_running"
    assert json.loads(queued["input"])["event"]["type"] == "video.queued"
    assert json.loads(queued["input"])["event"]["data"]["status"] == "queued"
    assert json.loads(running["input"])["event"]["data"]["status"] == "running"
    assert json.loads(running["input"])["event"]["data"]["estimated_done_at"]
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
    job = submit.submit_job(runtime, video_request(provider="aimlapi"), tenant_id="key_t")
    assert runtime.calls("runtime.adapter") == [ProviderName.AIMLAPI]
    assert job.provider is ProviderName.AIMLAPI
    assert job.deadline_at - job.created_at == timedelta(seconds=36)
    # The expected end is in the stack's scaled time, like the deadline.
    done = wait_policy.first_plan(None, None).done_seconds * 0.01
    assert job.estimated_done_at == job.created_at + timedelta(seconds=done)
    (started,) = runtime.calls("sfn.start_execution")
    assert json.loads(started["input"])["wait_seconds"] == wait_policy.first_wait_seconds(None, None)


# ---- submit: provider errors ---------------------------------------------------------


ATTEMPTS = submit.SUBMIT_ATTEMPTS
# name, the provider's answers, then the refusal: status, code, field, headers, and how many submits.
SUBMIT_PROVIDER_ERRORS: list[tuple[str, list[ProviderError], int, str, str | None, dict[str, str], int]] = [
    (
        "rejected",
        [ProviderRejected("prompt refused", status_code=422)],
        400,
        "provider_rejected",
        None,
        {},
        1,
    ),
    (
        "unsupported",
        [ProviderUnsupported("no refs here", field="reference_images")],
        400,
        "unsupported_by_provider",
        "reference_images",
        {},
        1,
    ),
    ("auth", [ProviderAuthError("bad key", status_code=401)], 502, "provider_auth_failed", None, {}, 1),
    (
        "transient-retry-after",
        [ProviderTransient("busy", status_code=429, retry_after=2.5)] * ATTEMPTS,
        503,
        "provider_unavailable",
        None,
        {"Retry-After": "3"},
        ATTEMPTS,
    ),
    (
        "transient",
        [ProviderTransient("down", status_code=503)] * ATTEMPTS,
        503,
        "provider_unavailable",
        None,
        {},
        ATTEMPTS,
    ),
]


@pytest.mark.parametrize(
    ("errors", "status", "code", "field", "headers", "attempts"),
    [pytest.param(*case, id=name) for name, *case in SUBMIT_PROVIDER_ERRORS],
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
        submit.submit_job(runtime, video_request(), tenant_id="key_t")
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
    job = submit.submit_job(runtime, video_request(), tenant_id="key_t")
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
        submit.submit_job(runtime, video_request(), tenant_id="key_t")
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
    job = submit.submit_job(runtime, video_request(), tenant_id="key_t")
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
    prepared = prepare(runtime, video_request(), tenant_id="key_t")
    return submit._start_job(runtime, video_request(), prepared, tenant_id="key_t", idempotency_key=key)


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
    assert job.status is JobStatus.RUNNING and job.provider_request_id == "req-123"  # accepted: runs
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
    job = submit.submit_job(runtime, video_request(), tenant_id="key_t")
    stored = runtime.store.get(job.id)
    stored.submission = "in_progress"  # as if the end of the submit was never recorded
    runtime.store.jobs[job.id] = stored
    resumed = submit.resume_submission(runtime, stored)
    assert resumed.id == job.id and runtime.store.get(job.id).submission is None
    assert len(runtime.calls("sfn.start_execution")) == 2  # the second was told it exists


def test_submit_errors_other_than_provider_errors_propagate(runtime: FakeRuntime) -> None:
    runtime._adapter.submit_outcomes = [RuntimeError("bug")]
    with pytest.raises(RuntimeError):
        submit.submit_job(runtime, video_request(), tenant_id="key_t")
    assert runtime.calls("sfn.start_execution") == []


def test_a_cancel_during_submit_wins_and_the_job_starts_no_execution(runtime: FakeRuntime) -> None:
    def cancel_now(job: Job) -> None:
        stored = runtime.store.jobs[job.id]
        runtime.store.jobs[job.id] = stored.model_copy(update={"status": JobStatus.CANCELED})

    runtime.store.before_update = cancel_now
    job = submit.submit_job(runtime, video_request(), tenant_id="key_a")
    assert job.status is JobStatus.CANCELED
    assert "adapter.submit" in runtime.names()
    assert "sfn.start_execution" not in runtime.names()


# ---- the job deadline ------------------------------------------------------------------


def test_a_tiny_time_scale_keeps_the_job_deadline_above_its_floor() -> None:
    # 3600 s at 0.0002 would be 0.72 s: every job would expire before its provider answers.
    settings = Settings(state_machine_arn=STATE_MACHINE_ARN, time_scale=0.0002)
    assert settings.job_deadline == MIN_JOB_DEADLINE_SECONDS
    job = submit.submit_job(FakeRuntime(settings), video_request(), tenant_id="key_t")
    assert job.deadline_at - job.created_at == timedelta(seconds=MIN_JOB_DEADLINE_SECONDS)
    assert Settings(time_scale=0.01).job_deadline == 36  # above the floor: scaled as before
