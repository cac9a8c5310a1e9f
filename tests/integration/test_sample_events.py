"""Every handler, fed its sample event from events/, against moto and the sandbox over HTTP."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import boto3
import pytest
from standardwebhooks import Webhook

from devstack.lambda_bridge import LambdaContext, resolve_handler
from devstack.receiver import WebhookReceiver
from devstack.stack import REPO
from videohook.job_store import JobStore
from videohook.models import JobStatus
from videohook.runtime import get_runtime

EVENTS = REPO / "events"


def load(name: str) -> dict:
    return json.loads((EVENTS / f"{name}.json").read_text())


def invoke(handler: str, event: dict) -> dict:
    return resolve_handler(f"handlers.{handler}.handler")(event, LambdaContext(function_name=handler))


@pytest.fixture(scope="module")
def receiver():
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def seeded_jobs(local_stack, receiver):
    """The sample events name fixed job ids: create those jobs from a real submission."""
    created = invoke("api", load("api_create_video"))
    assert created["statusCode"] == 202, created["body"]
    store = JobStore(boto3.resource("dynamodb").Table(local_stack.environment["VIDEOHOOK_JOBS_TABLE"]))
    source = store.get(json.loads(created["body"])["id"])
    sample_id = load("poll_provider")["job_id"]
    failing_id = load("fail_job")["job_id"]
    for job_id in (sample_id, failing_id):
        store.create(source.model_copy(update={"id": job_id, "webhook_url": receiver.url}))
    return store, sample_id, failing_id


def test_every_handler_has_a_sample_event():
    handlers = {p.stem for p in (REPO / "functions" / "handlers").glob("*.py") if p.stem != "__init__"}
    assert handlers >= {
        "api",
        "poll_provider",
        "finalize_video",
        "fail_job",
        "publish_event",
        "deliver_webhook",
        "reconcile_submissions",
    }
    for handler in handlers:
        assert list(EVENTS.glob(f"{handler}*.json")), f"no sample event for {handler}"


def test_api_create_event_starts_a_job(local_stack):
    answer = invoke("api", load("api_create_video"))
    assert answer["statusCode"] == 202
    job = json.loads(answer["body"])
    assert job["status"] == "running" and job["metadata"] == {"order_id": "A-1042"}  # accepted: runs
    execution = boto3.client("stepfunctions").describe_execution(
        executionArn=local_stack.environment["VIDEOHOOK_STATE_MACHINE_ARN"].replace(
            ":stateMachine:", ":execution:"
        )
        + f":{job['id']}"
    )
    assert execution["name"] == job["id"]


def test_workflow_events_drive_a_job_to_a_delivered_webhook(local_stack, seeded_jobs, receiver):
    store, sample_id, _ = seeded_jobs
    deadline = time.monotonic() + 30
    while True:
        polled = invoke("poll_provider", load("poll_provider"))
        assert polled["job_id"] == sample_id and polled["wait_seconds"] >= 0
        if polled["status"] == "succeeded" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert polled["status"] == "succeeded"

    finalized = invoke("finalize_video", load("finalize_video"))
    transfer = finalized.pop("transfer")  # how this attempt stored the video
    assert finalized == {"job_id": sample_id, "status": "succeeded"}
    job = store.get(sample_id)
    assert transfer["bytes"] == job.video.bytes and transfer["kind"] in ("copy", "provider_upload")
    assert transfer.keys() == load("publish_event")["transfer"].keys()
    bucket, key = job.video.s3_uri.removeprefix("s3://").split("/", 1)
    assert boto3.client("s3").head_object(Bucket=bucket, Key=key)["ContentLength"] == job.video.bytes

    published = invoke("publish_event", load("publish_event"))
    assert published["event"]["type"] == "video.succeeded"
    assert published["event"]["data"]["video"]["sha256"] == job.video.sha256

    delivered = invoke("deliver_webhook", load("deliver_webhook"))
    assert (delivered["outcome"], delivered["attempt"]) == ("delivered", 1)
    # PublishEvent also started the delivery of the real event (same webhook-id): find both.
    # (The poll above also announced video.running to the same receiver.)
    received = []
    while len(received) < 2 and (delivery := receiver.next(timeout=5)) is not None:
        if Webhook(local_stack.webhook_secret).verify(delivery[1], delivery[0])["type"] == "video.succeeded":
            received.append(delivery)
    verified = [Webhook(local_stack.webhook_secret).verify(body, headers) for headers, body in received]
    assert load("deliver_webhook")["event"] in verified
    assert published["event"] in verified
    assert {headers["webhook-id"] for headers, _ in received} == {load("deliver_webhook")["event_id"]}

    answer = invoke("api", load("api_get_video"))
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"])["status"] == "succeeded"


def test_fail_event_records_the_copy_error(seeded_jobs):
    store, _, failing_id = seeded_jobs
    assert invoke("fail_job", load("fail_job")) == {"job_id": failing_id, "status": "failed"}
    job = store.get(failing_id)
    assert job.status is JobStatus.FAILED
    assert job.error.code == "download_incomplete"
    assert "1048576 of 4194304" in job.error.message


def test_the_scheduled_reconciler_resumes_a_submit_that_died_after_the_provider_accepted(
    local_stack, seeded_jobs
):
    store, _, _ = seeded_jobs
    source = store.get(load("poll_provider")["job_id"])
    long_ago = source.created_at - timedelta(hours=1)
    stuck = source.model_copy(
        update={
            "id": "vid_01jz8sample000000000stuck",
            "status": JobStatus.QUEUED,
            "video": None,
            "created_at": long_ago,
            "updated_at": long_ago,
            "submission": "in_progress",
        }
    )
    with local_stack.scheduler.paused():  # this test is the schedule
        store.create(stuck)
        report = invoke("reconcile_submissions", load("reconcile_submissions"))
    assert stuck.id in report["resumed"] and report["failed"] == []
    assert store.get(stuck.id).submission is None
    execution = boto3.client("stepfunctions").describe_execution(
        executionArn=get_runtime().settings.state_machine_arn.replace(":stateMachine:", ":execution:")
        + f":{stuck.id}"
    )
    assert execution["name"] == stuck.id


def test_runtime_reads_secrets_from_secrets_manager(local_stack):
    runtime = get_runtime()
    assert runtime.webhook_secret() == local_stack.webhook_secret
    assert "VIDEOHOOK_WEBHOOK_SECRET" not in local_stack.environment
