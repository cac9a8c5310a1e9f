"""Tenants, listing and cancel, end to end through the local stack's HTTP API."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Key

from devstack.api_gateway import tenant_id_for
from tests.conftest import API_KEY_B
from tests.e2e.webhook_waits import wait_for_webhook

pytestmark = pytest.mark.e2e
TIMEOUT = 60
# Far longer than any test: the sandbox job stays running until it is canceled.
SLOW = "sandbox:seconds=100000"


def _create(api, prompt: str, **fields: Any) -> dict[str, Any]:
    answer = api.post("/v1/videos", json={"prompt": prompt, "duration": 1, **fields})
    assert answer.status_code == 202, answer.text
    return answer.json()


def _all_pages(api, **params: Any) -> list[list[dict[str, Any]]]:
    pages, cursor = [], None
    while True:
        answer = api.get("/v1/videos", params={**params, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert set(body) == {"data", "next_cursor"}
        pages.append(body["data"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 200, "paging does not end"


def _tenant_ids_in_table(local_stack, tenant: str) -> list[str]:
    table = boto3.resource("dynamodb").Table(local_stack.environment["VIDEOHOOK_JOBS_TABLE"])
    ids, start = [], None
    while True:
        page = table.query(
            IndexName="by_tenant",
            KeyConditionExpression=Key("tenant_id").eq(tenant),
            **({"ExclusiveStartKey": start} if start else {}),
        )
        ids += [item["id"] for item in page["Items"]]
        start = page.get("LastEvaluatedKey")
        if start is None:
            return ids


# ---- tenants -----------------------------------------------------------------------


def test_a_tenant_never_sees_another_tenants_job(local_stack, api, api_b) -> None:
    job = _create(api, f"Tenant A's lighthouse {uuid.uuid4()} {SLOW}")
    assert api.get(f"/v1/videos/{job['id']}").status_code == 200

    answer = api_b.get(f"/v1/videos/{job['id']}")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    answer = api_b.post(f"/v1/videos/{job['id']}/cancel")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    assert job["id"] not in {item["id"] for page in _all_pages(api_b, limit=100) for item in page}
    assert job["id"] in {item["id"] for page in _all_pages(api, limit=100) for item in page}
    # B's failed cancel changed nothing.
    assert api.get(f"/v1/videos/{job['id']}").json()["status"] in ("queued", "running")
    assert api.post(f"/v1/videos/{job['id']}/cancel").status_code == 200


# ---- list ----------------------------------------------------------------------------


def test_pages_are_newest_first_without_duplicates_or_gaps(local_stack, api_b) -> None:
    marker = uuid.uuid4()
    created = [_create(api_b, f"Page test {marker} #{i} {SLOW}")["id"] for i in range(7)]
    expected = _tenant_ids_in_table(local_stack, tenant_id_for(API_KEY_B))

    for limit in (1, 2, 3, 100):
        pages = _all_pages(api_b, limit=limit)
        assert all(len(page) <= limit for page in pages)
        assert all(len(page) == limit for page in pages[:-1]), [len(page) for page in pages]
        listed = [item for page in pages for item in page]
        ids = [item["id"] for item in listed]
        assert len(ids) == len(set(ids)), f"duplicates with limit={limit}"
        assert sorted(ids) == sorted(expected), f"gaps with limit={limit}"
        stamps = [item["created_at"] for item in listed]
        assert stamps == sorted(stamps, reverse=True)
        mine = [job_id for job_id in ids if job_id in created]
        assert mine == list(reversed(created))

    answer = api_b.get("/v1/videos")
    assert len(answer.json()["data"]) == min(20, len(expected))  # the default page size
    for job_id in created:
        api_b.post(f"/v1/videos/{job_id}/cancel")


def test_the_status_filter_fills_pages_and_pages_on(local_stack, api_b) -> None:
    marker = uuid.uuid4()
    created = [_create(api_b, f"Filter test {marker} #{i} {SLOW}")["id"] for i in range(6)]
    canceled = created[1::2]
    for job_id in canceled:
        assert api_b.post(f"/v1/videos/{job_id}/cancel").status_code == 200

    pages = _all_pages(api_b, status="canceled", limit=2)
    listed = [item for page in pages for item in page]
    ids = [item["id"] for item in listed]
    assert len(ids) == len(set(ids))
    assert all(item["status"] == "canceled" for item in listed)
    assert [job_id for job_id in ids if job_id in created] == list(reversed(canceled))
    assert all(len(page) == 2 for page in pages[:-1])
    running = {item["id"] for page in _all_pages(api_b, status="queued", limit=3) for item in page}
    running |= {item["id"] for page in _all_pages(api_b, status="running", limit=3) for item in page}
    assert set(created) - set(canceled) <= running
    for job_id in set(created) - set(canceled):
        api_b.post(f"/v1/videos/{job_id}/cancel")


def test_a_cursor_is_opaque_and_checked(api) -> None:
    for i in range(2):
        _create(api, f"Cursor test #{i} sandbox:outcome=failed")
    answer = api.get("/v1/videos", params={"limit": 1})
    cursor = answer.json()["next_cursor"]
    assert cursor and "vid_" not in cursor  # opaque
    answer = api.get("/v1/videos", params={"limit": 1, "cursor": cursor[:-3] + "!!!"})
    assert answer.status_code == 400 and answer.json()["error"]["field"] == "cursor"


# ---- cancel --------------------------------------------------------------------------


def _sns_types(queue_url: str, job_id: str, wanted: str) -> list[str]:
    sqs = boto3.client("sqs")
    types: list[str] = []
    deadline = time.monotonic() + 20
    while wanted not in types and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            body = json.loads(message["Body"])
            if body["data"]["id"] == job_id:
                types.append(body["type"])
    return types


def _execution_status(local_stack, name: str, wanted: str) -> str:
    sfn = boto3.client("stepfunctions")
    machine = local_stack.environment["VIDEOHOOK_STATE_MACHINE_ARN"]
    prefix, machine_name = machine.rsplit(":stateMachine:", 1)
    arn = f"{prefix}:execution:{machine_name}:{name}"
    deadline = time.monotonic() + TIMEOUT
    status = ""
    while time.monotonic() < deadline:
        status = sfn.describe_execution(executionArn=arn)["status"]
        if status == wanted:
            break
        time.sleep(0.1)
    return status


def test_cancel_stops_the_execution_and_announces_video_canceled(
    local_stack, api, receiver, sns_queue
) -> None:
    job = _create(api, f"A glacier calving {uuid.uuid4()} {SLOW}", webhook_url=receiver.url)
    assert _execution_status(local_stack, job["id"], "RUNNING") == "RUNNING"

    answer = api.post(f"/v1/videos/{job['id']}/cancel")
    assert answer.status_code == 200, answer.text
    canceled = answer.json()
    assert canceled["id"] == job["id"] and canceled["status"] == "canceled"
    assert canceled["completed_at"]

    assert _execution_status(local_stack, job["id"], "ABORTED") == "ABORTED"
    event = wait_for_webhook(
        receiver, local_stack.webhook_secret, job["id"], lambda event_type: event_type == "video.canceled"
    )["event"]
    assert event["data"]["status"] == "canceled"
    # The webhook carries the same job view as GET.
    final = api.get(f"/v1/videos/{job['id']}").json()
    assert set(event["data"]) == set(final)
    assert final["status"] == "canceled"
    assert "video.canceled" in _sns_types(sns_queue, job["id"], "video.canceled")
    assert _execution_status(local_stack, job["id"] + "-canceled", "SUCCEEDED") == "SUCCEEDED"

    again = api.post(f"/v1/videos/{job['id']}/cancel")
    assert again.status_code == 409, again.text
    assert again.json()["error"]["code"] == "job_finished"


def test_a_finished_job_cannot_be_canceled(local_stack, api) -> None:
    job = _create(api, f"A quick failure {uuid.uuid4()} sandbox:outcome=failed")
    deadline = time.monotonic() + TIMEOUT
    while api.get(f"/v1/videos/{job['id']}").json()["status"] != "failed":
        assert time.monotonic() < deadline, "the job did not fail in time"
        time.sleep(0.1)
    answer = api.post(f"/v1/videos/{job['id']}/cancel")
    assert answer.status_code == 409
    assert answer.json()["error"] == {
        "code": "job_finished",
        "message": "the job has already ended (failed)",
        "field": "id",
    }
    assert api.get(f"/v1/videos/{job['id']}").json()["status"] == "failed"
