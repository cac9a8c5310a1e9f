"""Idempotent submits through the local stack: Powertools' idempotency utility on the IdempotencyTable."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import boto3
import pytest

from devstack.api_gateway import tenant_id_for
from tests.conftest import API_KEY

pytestmark = pytest.mark.e2e
BODY = {"prompt": "A paper boat drifts down a gutter. sandbox:seconds=5", "duration": 1, "resolution": "480p"}


def _key() -> str:
    return f"order-{uuid.uuid4()}"


def _submissions_with_prompt(local_stack: Any, prompt: str) -> list[dict[str, Any]]:
    return [job for job in local_stack.sandbox.jobs if job["body"].get("prompt") == prompt]


def _jobs_with_prompt(local_stack: Any, prompt: str) -> list[dict[str, Any]]:
    table = boto3.resource("dynamodb").Table(local_stack.environment["VIDEOHOOK_JOBS_TABLE"])
    items, start = [], None
    while True:
        page = table.scan(**({"ExclusiveStartKey": start} if start else {}))
        items += [item for item in page["Items"] if item.get("prompt") == prompt]
        start = page.get("LastEvaluatedKey")
        if start is None:
            return items


def test_a_retry_with_the_same_key_and_body_returns_the_same_job(local_stack, api) -> None:
    key, body = _key(), {**BODY, "prompt": f"A retried boat {uuid.uuid4()}"}
    first = api.post("/v1/videos", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 202, first.text
    # Same body, other key order and an explicit null: the same request.
    retry = api.post(
        "/v1/videos",
        json={"user": None, **dict(reversed(list(body.items())))},
        headers={"idempotency-key": key},
    )
    assert retry.status_code == 202, retry.text
    assert retry.json()["id"] == first.json()["id"]
    assert len(_submissions_with_prompt(local_stack, body["prompt"])) == 1
    assert len(_jobs_with_prompt(local_stack, body["prompt"])) == 1
    # The record is in the IdempotencyTable, keyed by a hash (the key itself is not stored).
    table = boto3.resource("dynamodb").Table(local_stack.environment["VIDEOHOOK_IDEMPOTENCY_TABLE"])
    records = [item for item in table.scan()["Items"] if item["id"].startswith("videohook.create_video#")]
    assert records and not any(key in str(item) for item in records)


def test_the_same_key_with_another_body_is_refused(local_stack, api) -> None:
    key, prompt = _key(), f"A boat, then a car {uuid.uuid4()}"
    assert (
        api.post("/v1/videos", json={**BODY, "prompt": prompt}, headers={"Idempotency-Key": key}).status_code
        == 202
    )
    stats = local_stack.sandbox.stats
    answer = api.post(
        "/v1/videos", json={**BODY, "prompt": prompt, "duration": 2}, headers={"Idempotency-Key": key}
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "idempotency_key_reused"
    assert answer.json()["error"]["field"] == "Idempotency-Key"
    assert local_stack.sandbox.stats["submissions"] == stats["submissions"]
    assert len(_jobs_with_prompt(local_stack, prompt)) == 1


def test_keys_are_per_tenant(local_stack, api, api_b) -> None:
    key, body = _key(), {**BODY, "prompt": f"Two tenants, one key {uuid.uuid4()}"}
    mine = api.post("/v1/videos", json=body, headers={"Idempotency-Key": key})
    theirs = api_b.post("/v1/videos", json=body, headers={"Idempotency-Key": key})
    assert mine.status_code == theirs.status_code == 202
    assert mine.json()["id"] != theirs.json()["id"]
    assert len(_submissions_with_prompt(local_stack, body["prompt"])) == 2


def test_without_a_key_every_post_is_a_new_job(local_stack, api) -> None:
    body = {**BODY, "prompt": f"No key {uuid.uuid4()}"}
    ids = {api.post("/v1/videos", json=body).json()["id"] for _ in range(2)}
    assert len(ids) == 2


def test_a_failed_submit_does_not_burn_the_key(local_stack, api) -> None:
    key, prompt = _key(), f"Refused first {uuid.uuid4()}"
    refused = api.post(
        "/v1/videos", json={**BODY, "prompt": prompt, "provider": "xai"}, headers={"Idempotency-Key": key}
    )
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "provider_not_configured"
    accepted = api.post("/v1/videos", json={**BODY, "prompt": prompt}, headers={"Idempotency-Key": key})
    assert accepted.status_code == 202, accepted.text


def test_twenty_concurrent_posts_with_one_key_make_one_job_and_one_submission(local_stack) -> None:
    import httpx

    key, body = _key(), {**BODY, "prompt": f"Twenty at once {uuid.uuid4()}"}
    submissions_before = local_stack.sandbox.stats["submissions"]
    barrier = threading.Barrier(20)
    answers: list[httpx.Response] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def post() -> None:
        try:
            with httpx.Client(base_url=local_stack.url, headers={"x-api-key": API_KEY}, timeout=60) as client:
                barrier.wait(timeout=30)
                answer = client.post("/v1/videos", json=body, headers={"Idempotency-Key": key})
            with lock:
                answers.append(answer)
        except BaseException as error:  # noqa: BLE001 - reported below
            with lock:
                errors.append(error)

    threads = [threading.Thread(target=post) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)

    assert not errors, errors
    assert [answer.status_code for answer in answers] == [202] * 20, [
        a.text for a in answers if a.status_code != 202
    ]
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert local_stack.sandbox.stats["submissions"] == submissions_before + 1
    assert len(_submissions_with_prompt(local_stack, body["prompt"])) == 1
    jobs = _jobs_with_prompt(local_stack, body["prompt"])
    assert len(jobs) == 1 and jobs[0]["tenant_id"] == tenant_id_for(API_KEY)
