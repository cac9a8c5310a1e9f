"""Zero-copy through the local stack: the sandbox (xAI contract) PUTs the video to the presigned
URL it was given at submit, FinalizeVideo only verifies it; without a usable upload it copies."""

from __future__ import annotations

import hashlib
import json
import time

import boto3
import pytest
from standardwebhooks import Webhook

from sandbox.mp4 import mp4_sha256
from videohook import completion_times
from videohook.job_history import history_id

pytestmark = pytest.mark.e2e
TIMEOUT = 60


def _run(api, local_stack, receiver, prompt: str) -> dict:
    answer = api.post(
        "/v1/videos",
        json={"prompt": prompt, "duration": 1, "resolution": "480p", "webhook_url": receiver.url},
    )
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["id"]
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        delivery = receiver.next(timeout=0.5)
        if delivery is not None:
            event = Webhook(local_stack.webhook_secret).verify(delivery[1], delivery[0])
            if event["data"]["id"] == job_id and event["type"] not in ("video.queued", "video.running"):
                return api.get(f"/v1/videos/{job_id}").json()
    raise AssertionError(f"no webhook for {job_id} within {TIMEOUT} s")


def _transfer(local_stack, job_id: str) -> dict:
    """How FinalizeVideo stored the job's video: `transfer` of the state's output, from the
    history of the job's execution (named after the job)."""
    machine = local_stack.environment["VIDEOHOOK_STATE_MACHINE_ARN"]
    arn = machine.replace(":stateMachine:", ":execution:") + f":{job_id}"
    history = boto3.client("stepfunctions").get_execution_history(executionArn=arn, maxResults=1000)
    outputs = [
        json.loads(event["stateExitedEventDetails"]["output"])
        for event in history["events"]
        if event["type"] == "TaskStateExited" and event["stateExitedEventDetails"]["name"] == "FinalizeVideo"
    ]
    assert len(outputs) == 1, history["events"]
    return outputs[0]["transfer"]


def _stored(s3_uri: str) -> bytes:
    bucket, key = s3_uri.removeprefix("s3://").split("/", 1)
    return boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


def test_the_provider_uploads_and_finalize_copies_nothing(local_stack, api, receiver):
    uploads_before = local_stack.sandbox.stats["uploads"]
    final = _run(api, local_stack, receiver, "A lighthouse at dusk sandbox:bytes=300000")
    assert final["status"] == "succeeded", final

    provider_job = local_stack.sandbox.job(final["provider_request_id"])
    assert provider_job["upload_url"] and provider_job["uploaded"]
    assert local_stack.sandbox.stats["uploads"] == uploads_before + 1
    assert provider_job["downloads"] == 0  # nobody fetched the provider's temporary URL

    transfer = _transfer(local_stack, final["id"])
    assert (transfer["kind"], transfer["bytes_copied"]) == ("provider_upload", 0)
    assert transfer["bytes_read_to_verify"] == 12  # the MP4 header, nothing more
    assert transfer["bytes"] == 300000 and transfer["seconds"] > 0

    video = final["video"]
    expected = mp4_sha256(final["provider_request_id"], 300000)
    assert (video["bytes"], video["sha256"], video["content_type"]) == (300000, expected, "video/mp4")
    assert hashlib.sha256(_stored(video["s3_uri"])).hexdigest() == expected
    assert video["s3_uri"].endswith(f"/{final['id']}.mp4")


def test_the_completion_time_feeds_the_kind_history(local_stack, api, receiver):
    final = _run(api, local_stack, receiver, "A kite in the wind")
    assert final["status"] == "succeeded"
    kind = completion_times.job_kind("sandbox", final["model"], "480p", 1)
    table = boto3.resource("dynamodb").Table(local_stack.environment["VIDEOHOOK_JOBS_TABLE"])
    item = table.get_item(Key={"id": history_id(kind)}).get("Item")
    assert item is not None and int(item["seq"]) >= 1 and item["slots"]


def test_without_an_upload_finalize_falls_back_to_the_copy(
    local_stack, api, receiver, provider_cannot_upload
):
    final = _run(api, local_stack, receiver, "A paper boat sandbox:bytes=200000")
    assert final["status"] == "succeeded", final
    provider_job = local_stack.sandbox.job(final["provider_request_id"])
    assert provider_job["upload"]["status"] == "failed" and provider_job["downloads"] == 1
    transfer = _transfer(local_stack, final["id"])
    assert (transfer["kind"], transfer["bytes_copied"], transfer["bytes"]) == ("copy", 200000, 200000)
    assert final["video"]["sha256"] == mp4_sha256(final["provider_request_id"], 200000)
