"""videohook.workflow_steps: poll_job and the error codes of failed steps, against a fake runtime."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from tests.fakes import FakeRuntime, make_job
from videohook import wait_policy, workflow_steps
from videohook.models import Job, JobError, JobStatus, ProviderName, utc_now
from videohook.providers.base import (
    ProviderAuthError,
    ProviderError,
    ProviderJobState,
    ProviderMalformed,
    ProviderRejected,
    ProviderTransient,
)
from videohook.workflow_payloads import PollResult, WorkflowInput

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
        "status": JobStatus.RUNNING,
        "provider_request_id": "req-1",
        "duration": 8,
        "created_at": now - timedelta(seconds=30),
        "updated_at": now - timedelta(seconds=5),
    }
    job = make_job(**{**values, **overrides})
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


def test_poll_publishes_the_forecast_it_planned_with(runtime: FakeRuntime) -> None:
    job = running_job(runtime, progress=20, provider_queued=False)  # rendering, at 20%
    runtime._adapter.poll_outcomes = [ProviderJobState(status=JobStatus.RUNNING, progress=20)]
    before = utc_now()
    result = poll(runtime)
    stored = runtime.store.jobs["vid_poll"]
    # The median of the forecast the wait came from: later than this poll, and the wait's poll
    # comes before it (more polls are never planned for it: it is only published).
    assert stored.estimated_done_at is not None and stored.estimated_done_at > before
    done_in = (stored.estimated_done_at - job.created_at).total_seconds()
    assert done_in > (before - job.created_at).total_seconds() + result.wait_seconds
    # Nothing callers see changed (progress 20 again): `updated_at`, the policy's "last
    # change", stays, though the forecast moved.
    assert stored.updated_at == job.updated_at
    # Faster progress brings the expected end closer, at the very next poll.
    runtime._adapter.poll_outcomes = [ProviderJobState(status=JobStatus.RUNNING, progress=90)]
    poll(runtime)
    sooner = runtime.store.jobs["vid_poll"].estimated_done_at
    assert sooner is not None and sooner < stored.estimated_done_at


def test_a_provider_queue_keeps_an_accepted_job_running(runtime: FakeRuntime) -> None:
    running_job(runtime)
    runtime._adapter.poll_outcomes = [
        ProviderJobState(status=JobStatus.QUEUED),
        ProviderJobState(status=JobStatus.RUNNING, progress=10),
    ]
    assert poll(runtime).status is JobStatus.RUNNING
    stored = runtime.store.jobs["vid_poll"]
    assert stored.status is JobStatus.RUNNING and stored.provider_queued  # the policy's "queued"
    assert poll(runtime).status is JobStatus.RUNNING
    assert not runtime.store.jobs["vid_poll"].provider_queued
    assert runtime.calls("sns.publish") == []  # submit announced video.running


def test_a_queued_record_from_before_runs_at_its_first_poll(runtime: FakeRuntime) -> None:
    running_job(runtime, status=JobStatus.QUEUED)
    runtime._adapter.poll_outcomes = [ProviderJobState(status=JobStatus.QUEUED)]
    assert poll(runtime).status is JobStatus.RUNNING
    assert runtime.store.jobs["vid_poll"].status is JobStatus.RUNNING
    (published,) = runtime.calls("sns.publish")
    assert published["MessageAttributes"]["type"]["StringValue"] == "video.running"


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
