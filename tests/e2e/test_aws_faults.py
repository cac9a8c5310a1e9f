"""AWS-side faults through the local stack: throttling and 5xx from DynamoDB, S3, SNS and Step
Functions are retried with backoff by the runtime's clients (botocore's standard retry mode,
videohook.runtime), and a fault that outlasts those retries in FinalizeVideo is retried by
the state machine's Retry (infra/constructs/workflow.py). Faults are injected with botocore
event hooks on the runtime's own clients (tests/e2e/botocore_faults.py)."""

from __future__ import annotations

import hashlib
import uuid

import boto3
import pytest

from devstack import lambda_bridge
from devstack.receiver import WebhookReceiver
from tests.e2e.botocore_faults import (
    INTERNAL_ERROR,
    INTERNAL_SERVER_ERROR,
    PROVISIONED_THROUGHPUT_EXCEEDED,
    SERVICE_UNAVAILABLE,
    SLOW_DOWN,
    THROTTLING,
    THROTTLING_QUERY,
    FaultInjector,
    RetrySleeps,
    backoff_problems,
)
from tests.e2e.fault_modes import terminal_webhooks
from videohook import runtime as runtime_module

pytestmark = pytest.mark.e2e
TIMEOUT = 60
FINALIZE = "handlers.finalize_video.handler"


@pytest.fixture
def runtime(local_stack, monkeypatch):
    """A runtime of this test's own, which every handler of the process then uses: the faults
    end with the test."""
    monkeypatch.setattr(runtime_module, "_runtime", None)
    return runtime_module.get_runtime()


@pytest.fixture
def faults(runtime):
    injector = FaultInjector()
    try:
        yield injector
    finally:
        injector.remove()


@pytest.fixture
def retry_sleeps():
    with RetrySleeps() as sleeps:
        yield sleeps


def _submit(api, receiver: WebhookReceiver, prompt: str, **headers: str) -> str:
    answer = api.post(
        "/v1/videos",
        json={"prompt": prompt, "duration": 1, "resolution": "480p", "webhook_url": receiver.url},
        headers=headers,
    )
    assert answer.status_code == 202, answer.text
    return answer.json()["id"]


def _video_objects(local_stack, job_id: str) -> tuple[list[str], list[str]]:
    """The job's objects in the video bucket, and its multipart uploads still open."""
    s3 = boto3.client("s3")
    bucket = local_stack.environment["VIDEOHOOK_VIDEO_BUCKET"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []) if job_id in o["Key"]]
    uploads = [
        u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) if job_id in u["Key"]
    ]
    return keys, uploads


def _stored_sha256(s3_uri: str) -> str:
    bucket, key = s3_uri.removeprefix("s3://").split("/", 1)
    return hashlib.sha256(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()).hexdigest()


def test_throttling_and_5xx_from_every_aws_service_are_retried_with_backoff(
    local_stack, api, receiver, runtime, faults, retry_sleeps
):
    jobs_table = runtime.store._table.meta.client  # the DynamoDB client behind the job store
    faults.inject(jobs_table, "GetItem", [PROVISIONED_THROUGHPUT_EXCEEDED, INTERNAL_SERVER_ERROR])
    faults.inject(jobs_table, "UpdateItem", [THROTTLING])
    faults.inject(runtime.idempotency_store.client, "PutItem", [SERVICE_UNAVAILABLE])
    faults.inject(runtime.s3, "GetObject", [SLOW_DOWN, INTERNAL_ERROR])  # FinalizeVideo's check of the upload
    faults.inject(runtime.sns, "Publish", [THROTTLING_QUERY, SERVICE_UNAVAILABLE])
    faults.inject(runtime.sfn, "StartExecution", [THROTTLING, SERVICE_UNAVAILABLE])
    faults.inject(runtime._secrets.client, "GetSecretValue", [THROTTLING])  # Powertools' provider

    job_id = _submit(api, receiver, "A kite over a beach", **{"Idempotency-Key": str(uuid.uuid4())})
    events = terminal_webhooks(local_stack, receiver, {job_id}, TIMEOUT).get(job_id, [])

    assert events == ["video.succeeded"]
    final = api.get(f"/v1/videos/{job_id}").json()
    assert final["status"] == "succeeded", final
    assert _stored_sha256(final["video"]["s3_uri"]) == final["video"]["sha256"]
    # Every injected fault was hit, and every call it hit got through on a later attempt ...
    assert faults.faults_by_service() == {
        "dynamodb": 4,
        "s3": 2,
        "secrets-manager": 1,
        "sfn": 2,
        "sns": 2,
    }
    calls = faults.calls()
    assert all(call[-1].fault is None for call in calls), calls
    # ... after waiting the backoff botocore computed for it.
    assert backoff_problems(faults, retry_sleeps) == []


def test_an_s3_fault_outlasting_the_client_retries_is_retried_by_the_state_machine(
    local_stack, api, receiver, runtime, faults, retry_sleeps, provider_cannot_upload
):
    # Runtime._config sets max_attempts 8, which botocore counts as retries: 9 attempts per call.
    attempts_per_call = runtime.s3.meta.config.retries["total_max_attempts"]
    faults.inject(runtime.s3, "PutObject", [INTERNAL_ERROR] * (attempts_per_call + 2))
    finalize_before = lambda_bridge.invocations.get(FINALIZE, 0)

    job_id = _submit(api, receiver, "A heron in the reeds")
    events = terminal_webhooks(local_stack, receiver, {job_id}, TIMEOUT).get(job_id, [])

    assert events == ["video.succeeded"]
    final = api.get(f"/v1/videos/{job_id}").json()
    assert final["status"] == "succeeded", final
    # The first FinalizeVideo gave up after its client's last attempt (VideoUploadFailed); the
    # state machine's Retry ran it again, and that one's third attempt stored the video.
    calls = faults.calls("PutObject")
    assert [[attempt.fault is not None for attempt in call] for call in calls] == [
        [True] * attempts_per_call,
        [True, True, False],
    ]
    assert lambda_bridge.invocations[FINALIZE] - finalize_before == 2
    assert local_stack.sandbox.job(final["provider_request_id"])["downloads"] == 2
    assert _stored_sha256(final["video"]["s3_uri"]) == final["video"]["sha256"]
    assert _video_objects(local_stack, job_id) == ([final["video"]["s3_uri"].split("/", 3)[3]], [])
    assert backoff_problems(faults, retry_sleeps) == []
