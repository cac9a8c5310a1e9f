"""Crash-safe submit through the local stack: a paid provider job is never lost nor duplicated.

Crashes are injected into the api Lambda's own Step Functions client with a botocore
event hook, between the provider's accept and StartExecution. The scheduled
ReconcileSubmissions Lambda runs as the template schedules it (devstack.schedules).
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import boto3
import pytest

from tests.e2e.fault_modes import terminal_webhooks
from videohook.models import Job, JobStatus, ProviderName, utc_now
from videohook.runtime import get_runtime

pytestmark = pytest.mark.e2e
TIMEOUT = 60


class SimulatedKill(BaseException):
    """The Lambda runtime dying (timeout, OOM): no `except Exception` cleanup runs."""


def _body(receiver: Any, tag: str, directives: str = "sandbox:seconds=5") -> dict[str, Any]:
    return {
        "prompt": f"Crash-safe submit {tag} {uuid.uuid4()} {directives}",
        "duration": 1,
        "resolution": "480p",
        "webhook_url": receiver.url,
    }


class CrashStartExecution:
    """Raises `error` on the first StartExecution of a job's workflow (not a delivery's)."""

    def __init__(self, local_stack: Any, error: BaseException) -> None:
        self.workflow_arn = local_stack.environment["VIDEOHOOK_STATE_MACHINE_ARN"]
        self.error = error
        self.crashed: list[str] = []
        self.events = get_runtime().sfn.meta.events

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        if params.get("stateMachineArn") == self.workflow_arn and not self.crashed:
            self.crashed.append(params["name"])
            raise self.error

    def __enter__(self) -> CrashStartExecution:
        self.events.register("provide-client-params.sfn.StartExecution", self)
        return self

    def __exit__(self, *_: object) -> None:
        self.events.unregister("provide-client-params.sfn.StartExecution", self)


def _provider_submissions(local_stack: Any, prompt: str) -> int:
    return sum(1 for job in local_stack.sandbox.jobs if job["body"].get("prompt") == prompt)


def _executions(local_stack: Any, job_id: str) -> list[str]:
    sfn = boto3.client("stepfunctions")
    pages = sfn.get_paginator("list_executions").paginate(
        stateMachineArn=local_stack.environment["VIDEOHOOK_STATE_MACHINE_ARN"]
    )
    return [e["name"] for page in pages for e in page["executions"] if e["name"].startswith(job_id)]


def _terminal_events(local_stack: Any, receiver: Any, job_id: str) -> list[str]:
    """The job's terminal webhook events (one per webhook-id), once its deliveries ended."""
    return terminal_webhooks(local_stack, receiver, {job_id}, TIMEOUT).get(job_id, [])


def test_a_crash_before_start_execution_then_a_retry_with_the_key_makes_one_job(local_stack, api, receiver):
    body, key = _body(receiver, "retry"), f"order-{uuid.uuid4()}"
    with CrashStartExecution(local_stack, RuntimeError("injected crash before StartExecution")) as crash:
        first = api.post("/v1/videos", json=body, headers={"Idempotency-Key": key})
    assert first.status_code >= 500, first.text
    (job_id,) = crash.crashed
    assert get_runtime().store.get(job_id).submission == "in_progress"  # accepted, not started

    retry = api.post("/v1/videos", json=body, headers={"Idempotency-Key": key})
    assert retry.status_code == 202, retry.text
    assert retry.json()["id"] == job_id  # the same job, resumed

    assert _terminal_events(local_stack, receiver, job_id) == ["video.succeeded"]
    assert _provider_submissions(local_stack, body["prompt"]) == 1
    assert _executions(local_stack, job_id) == [job_id]
    job = api.get(f"/v1/videos/{job_id}").json()
    assert job["status"] == "succeeded" and job["video"]["bytes"] > 0
    assert get_runtime().store.get(job_id).submission is None


def test_a_killed_submit_is_resumed_by_the_reconciler_and_never_duplicated(local_stack, api, receiver):
    body, key = _body(receiver, "killed"), f"order-{uuid.uuid4()}"
    with CrashStartExecution(local_stack, SimulatedKill()) as crash:
        first = api.post("/v1/videos", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 502, first.text  # API Gateway's answer to a crashed integration
    (job_id,) = crash.crashed

    # The killed request's idempotency record is still in progress (until the Lambda's timeout
    # in the cloud): a retry is told to come back, it does not start a second job.
    retry = api.post("/v1/videos", json=body, headers={"Idempotency-Key": key})
    assert retry.status_code == 409, retry.text
    assert retry.json()["error"]["code"] == "idempotency_key_in_progress"

    # The scheduled reconciler finds the unfinished submit and starts its workflow.
    assert _terminal_events(local_stack, receiver, job_id) == ["video.succeeded"]
    assert _provider_submissions(local_stack, body["prompt"]) == 1
    assert _executions(local_stack, job_id) == [job_id]
    assert get_runtime().store.get(job_id).submission is None


def test_a_submit_interrupted_during_the_provider_call_is_failed_with_a_webhook(local_stack, receiver):
    """No provider request id was recorded: whether the provider started a job is unknowable,
    so the reconciler fails it (resubmitting could bill twice) and says so."""
    runtime = get_runtime()
    created = utc_now() - timedelta(minutes=10)
    job = Job(
        id=f"vid_{uuid.uuid4().hex[:26]}",
        tenant_id="tenant-crash-test",
        provider=ProviderName.SANDBOX,
        prompt=f"Interrupted {uuid.uuid4()}",
        webhook_url=receiver.url,
        created_at=created,
        updated_at=created,
        deadline_at=created + timedelta(hours=1),
        submission="in_progress",
    )
    runtime.store.create(job)

    assert _terminal_events(local_stack, receiver, job.id) == ["video.failed"]
    stored = runtime.store.get(job.id)
    assert stored.status is JobStatus.FAILED and stored.submission is None
    assert stored.error is not None and stored.error.code == "submission_interrupted"
    assert _provider_submissions(local_stack, job.prompt) == 0
    assert _executions(local_stack, job.id) == [job.id]


def test_a_submit_that_times_out_is_not_retried_and_fails_with_a_webhook(local_stack, api, receiver):
    # 300 provider seconds = 6 s here, past the provider timeout's 2 s floor.
    body = _body(receiver, "timeout", "sandbox:submit_delay=300 sandbox:seconds=5")
    answer = api.post("/v1/videos", json=body)
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert job["status"] == "failed"
    assert job["error"]["code"] == "provider_submit_timeout"
    assert _terminal_events(local_stack, receiver, job["id"]) == ["video.failed"]
    deadline = time.monotonic() + 15  # the sandbox records the job when its late answer is sent
    while _provider_submissions(local_stack, body["prompt"]) == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _provider_submissions(local_stack, body["prompt"]) == 1  # accepted once, never again
