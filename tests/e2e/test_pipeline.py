"""The whole pipeline through the local stack's HTTP API, on the synthesized state machine."""

from __future__ import annotations

import base64
import hashlib
import json
import time

import boto3
import pytest

from devstack import lambda_bridge
from devstack.stack import REPO
from sandbox.mp4 import mp4_sha256
from tests.e2e.webhook_waits import wait_for_webhook

pytestmark = pytest.mark.e2e
TIMEOUT = 60


def _sns_messages(queue_url: str, job_id: str) -> list[dict]:
    sqs = boto3.client("sqs")
    found = []
    deadline = time.monotonic() + 10
    while not found and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            body = json.loads(message["Body"])
            if body["data"]["id"] == job_id and body["type"] not in ("video.queued", "video.running"):
                found.append(body)
    return found


def _s3_sha256(s3_uri: str) -> tuple[str, int]:
    bucket, key = s3_uri.removeprefix("s3://").split("/", 1)
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return hashlib.sha256(body).hexdigest(), len(body)


def test_text_to_video_succeeds_with_verified_webhook_sns_and_s3_bytes(local_stack, api, receiver, sns_queue):
    invocations_before = lambda_bridge.invocations.get("handlers.poll_provider.handler", 0)
    answer = api.post(
        "/v1/videos",
        json={
            "prompt": "A candle flickers on a wooden table.",
            "duration": 2,
            "resolution": "480p",
            "webhook_url": receiver.url,
            "metadata": {"order": 42},
        },
    )
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert job["status"] == "running" and job["id"].startswith("vid_") and job["estimated_done_at"]

    delivered = wait_for_webhook(receiver, local_stack.webhook_secret, job["id"])
    assert delivered["event"]["type"] == "video.succeeded"
    assert delivered["headers"]["webhook-id"].startswith("evt_")

    final = api.get(f"/v1/videos/{job['id']}").json()
    assert final["status"] == "succeeded" and final["progress"] == 100
    assert final["metadata"] == {"order": 42}
    assert final["provider"] == "sandbox" and final["provider_request_id"]
    video = final["video"]
    expected = mp4_sha256(final["provider_request_id"], video["bytes"])
    assert video["sha256"] == expected
    assert _s3_sha256(video["s3_uri"]) == (expected, video["bytes"])
    assert video["download_url"].startswith("http://127.0.0.1:")
    assert video["content_type"] == "video/mp4"

    messages = _sns_messages(sns_queue, job["id"])
    assert [m["type"] for m in messages] == ["video.succeeded"]
    assert messages[0]["data"]["video"]["sha256"] == expected
    # The state machine's Lambda tasks ran through the in-process bridge, not moto's Docker path.
    assert lambda_bridge.installed()
    assert lambda_bridge.invocations["handlers.poll_provider.handler"] > invocations_before


def test_image_to_video_sends_the_data_uri_to_the_provider(local_stack, api, receiver):
    image = base64.b64encode((REPO / "events" / "first-frame.png").read_bytes()).decode()
    answer = api.post(
        "/v1/videos",
        json={
            "prompt": "Animate the clouds drifting.",
            "image": {"url": f"data:image/png;base64,{image}"},
            "duration": 1,
            "resolution": "720p",
            "aspect_ratio": "16:9",
            "webhook_url": receiver.url,
        },
    )
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["id"]
    event = wait_for_webhook(receiver, local_stack.webhook_secret, job_id)["event"]
    assert event["type"] == "video.succeeded"
    final = api.get(f"/v1/videos/{job_id}").json()
    assert final["image"]["url"].startswith("data:image/png;base64,<")  # not stored in full
    submitted = [j for j in local_stack.sandbox.jobs if j["id"] == final["provider_request_id"]]
    assert len(submitted) == 1
    assert _s3_sha256(final["video"]["s3_uri"])[0] == final["video"]["sha256"]


def test_provider_failure_ends_failed_with_error_and_failed_webhook(local_stack, api, receiver, sns_queue):
    answer = api.post(
        "/v1/videos",
        json={"prompt": "A storm at sea sandbox:outcome=failed", "duration": 1, "webhook_url": receiver.url},
    )
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["id"]
    event = wait_for_webhook(receiver, local_stack.webhook_secret, job_id)["event"]
    assert event["type"] == "video.failed"
    final = api.get(f"/v1/videos/{job_id}").json()
    assert final["status"] == "failed"
    assert final["error"]["code"] and final["error"]["message"]
    assert final.get("video") is None
    assert [m["type"] for m in _sns_messages(sns_queue, job_id)] == ["video.failed"]


def test_bad_input_is_refused_and_creates_nothing(local_stack, api):
    before = len(local_stack.sandbox.jobs)
    answer = api.post("/v1/videos", json={"prompt": "x", "duration": 99})
    assert answer.status_code == 400
    assert answer.json()["error"]["field"] == "duration"
    answer = api.post("/v1/videos", json={"prompt": "x", "webhook_url": "http://10.0.0.5/hook"})
    assert answer.status_code == 400 and answer.json()["error"]["field"] == "webhook_url"
    assert len(local_stack.sandbox.jobs) == before
    table = boto3.resource("dynamodb").Table(local_stack.environment["VIDEOHOOK_JOBS_TABLE"])
    assert all(item.get("prompt") != "x" for item in table.scan()["Items"])  # history items have none


def test_requests_without_a_known_api_key_are_forbidden(local_stack, api):
    import httpx

    answer = httpx.post(f"{local_stack.url}/v1/videos", json={"prompt": "x"}, headers={"x-api-key": "nope"})
    assert answer.status_code == 403
    # The template's gateway response, as API Gateway would answer.
    assert answer.json()["error"]["code"] == "forbidden"
    assert api.get("/v1/videos/vid_doesnotexist").status_code == 404


def _run_to_webhook(api, local_stack, receiver, body: dict) -> tuple[dict, dict]:
    answer = api.post("/v1/videos", json={**body, "webhook_url": receiver.url})
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["id"]
    event = wait_for_webhook(receiver, local_stack.webhook_secret, job_id)["event"]
    return event, api.get(f"/v1/videos/{job_id}").json()


@pytest.mark.parametrize(
    ("directive", "status", "event_type", "error_code"),
    [
        ("sandbox:outcome=expired", "expired", "video.expired", "provider_expired"),
        ("sandbox:outcome=moderated", "failed", "video.failed", "moderation_blocked"),
    ],
)
def test_every_provider_outcome_ends_terminal_with_a_notification(
    local_stack, api, receiver, directive, status, event_type, error_code
):
    event, final = _run_to_webhook(
        api, local_stack, receiver, {"prompt": f"A quiet lake {directive}", "duration": 1}
    )
    assert (final["status"], event["type"], final["error"]["code"]) == (status, event_type, error_code)
    assert final["video"] is None


def test_a_truncated_download_is_retried_then_fails_and_leaves_nothing_in_s3(
    local_stack, api, receiver, provider_cannot_upload
):
    event, final = _run_to_webhook(
        api,
        local_stack,
        receiver,
        {"prompt": "A waterfall sandbox:truncate=70000 sandbox:bytes=200000", "duration": 1},
    )
    assert final["status"] == "failed" and event["type"] == "video.failed"
    assert final["error"]["code"] == "download_incomplete"
    assert final["video"] is None
    sandbox_job = local_stack.sandbox.job(final["provider_request_id"])
    assert sandbox_job["downloads"] == 4  # FinalizeVideo's retrier: the first attempt and 3 retries
    s3 = boto3.client("s3")
    bucket = local_stack.environment["VIDEOHOOK_VIDEO_BUCKET"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert not [key for key in keys if final["id"] in key]
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")


@pytest.fixture
def short_deadline(stack_settings):
    stack_settings(VIDEOHOOK_JOB_DEADLINE_SECONDS="60")


def test_a_job_past_its_deadline_expires_with_a_webhook(local_stack, api, receiver, short_deadline):
    # 60 s of deadline under the e2e time scale is about a second; the sandbox job would take hours.
    event, final = _run_to_webhook(api, local_stack, receiver, {"prompt": "A glacier sandbox:seconds=100000"})
    assert final["status"] == "expired" and event["type"] == "video.expired"
    assert final["error"]["code"] == "deadline_exceeded"
