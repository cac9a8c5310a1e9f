"""JobStore against moto's in-process DynamoDB (mock_aws: no sockets)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from videohook.job_store import RECORD_RETENTION, JobAlreadyTerminal, JobNotFound, JobStore
from videohook.models import TERMINAL_STATUSES, Job, JobError, JobStatus, ProviderName, VideoArtifact

TABLE = "videohook-jobs-test"
CREATED = datetime(2025, 3, 1, 12, 30, 15, 123000, tzinfo=UTC)


@pytest.fixture(scope="module")
def _dynamodb_table(in_process_aws: None) -> Any:
    """One table per module; emptied after each test."""
    return boto3.resource("dynamodb", region_name="us-east-1").create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def table(_dynamodb_table: Any) -> Iterator[Any]:
    yield _dynamodb_table
    for item in _dynamodb_table.scan(ProjectionExpression="id")["Items"]:
        _dynamodb_table.delete_item(Key={"id": item["id"]})


@pytest.fixture
def store(table: Any) -> JobStore:
    return JobStore(table)


def make_job(job_id: str = "vid_01test", **overrides: Any) -> Job:
    values: dict[str, Any] = {
        "id": job_id,
        "tenant_id": "key_tenant_a",
        "provider": ProviderName.XAI,
        "prompt": "a red fox running through snow",
        "model": "grok-imagine-video",
        "duration": 5,
        "resolution": "720p",
        "aspect_ratio": "16:9",
        "metadata": {
            "order": 42,
            "ratio": 0.125,
            "price": 19.99,
            "nested": {"tags": ["a", "b"], "score": -1.5, "deep": {"ok": True, "none": None}},
            "empty": "",
        },
        "created_at": CREATED,
        "updated_at": CREATED,
        "deadline_at": CREATED + timedelta(hours=1),
    }
    values.update(overrides)
    return Job(**values)


def raw_item(table: Any, job_id: str) -> dict[str, Any]:
    return table.get_item(Key={"id": job_id}, ConsistentRead=True)["Item"]


# ---- create / get ----------------------------------------------------------------


def test_create_get_round_trip(store: JobStore) -> None:
    job = make_job()
    store.create(job)
    loaded = store.get(job.id)
    assert loaded == job
    assert loaded.metadata is not None
    assert isinstance(loaded.metadata["ratio"], float)
    assert loaded.metadata["price"] == 19.99
    assert loaded.metadata["nested"]["score"] == -1.5
    assert loaded.metadata["nested"]["deep"] == {"ok": True, "none": None}
    assert isinstance(loaded.metadata["order"], int)
    assert loaded.created_at == CREATED and loaded.created_at.tzinfo is not None
    assert loaded.deadline_at == CREATED + timedelta(hours=1)
    assert loaded.status is JobStatus.QUEUED
    assert loaded.provider is ProviderName.XAI


def test_round_trip_of_a_finished_job(store: JobStore) -> None:
    job = make_job(
        status=JobStatus.SUCCEEDED,
        progress=100,
        provider_request_id="req-1",
        provider_video_url="https://provider.invalid/v.mp4",
        video=VideoArtifact(s3_uri="s3://bucket/videos/t/vid.mp4", bytes=123456, sha256="ab" * 32),
        error=None,
        completed_at=CREATED + timedelta(minutes=2),
        poll_count=7,
    )
    store.create(job)
    loaded = store.get(job.id)
    assert loaded == job
    assert loaded.status is JobStatus.SUCCEEDED
    assert loaded.video is not None and loaded.video.bytes == 123456


def test_create_omits_none_fields_and_writes_ttl(store: JobStore, table: Any) -> None:
    store.create(make_job())
    item = raw_item(table, "vid_01test")
    assert "error" not in item and "video" not in item and "completed_at" not in item
    assert item["status"] == "queued"
    expires_at = item["expires_at"]
    assert int(expires_at) == expires_at  # an epoch integer, as DynamoDB TTL wants
    assert int(expires_at) == int((CREATED + RECORD_RETENTION).timestamp())
    assert RECORD_RETENTION == timedelta(days=90)
    assert abs(int(expires_at) - (CREATED.timestamp() + 90 * 86400)) < 1


def test_get_does_not_expose_expires_at(store: JobStore) -> None:
    store.create(make_job())
    assert "expires_at" not in store.get("vid_01test").model_dump()


def test_create_twice_with_the_same_id_fails(store: JobStore) -> None:
    store.create(make_job())
    with pytest.raises(ClientError) as caught:
        store.create(make_job(prompt="another"))
    assert caught.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert store.get("vid_01test").prompt == "a red fox running through snow"


def test_get_missing_raises_job_not_found(store: JobStore) -> None:
    with pytest.raises(JobNotFound):
        store.get("vid_missing")


def test_get_for_tenant(store: JobStore) -> None:
    store.create(make_job())
    assert store.get_for_tenant("vid_01test", "key_tenant_a").id == "vid_01test"
    with pytest.raises(JobNotFound):
        store.get_for_tenant("vid_01test", "key_tenant_b")
    with pytest.raises(JobNotFound):
        store.get_for_tenant("vid_missing", "key_tenant_a")


# ---- update ----------------------------------------------------------------------


def test_update_writes_fields(store: JobStore) -> None:
    job = make_job()
    store.create(job)
    job.status = JobStatus.RUNNING
    job.progress = 40
    job.provider_request_id = "req-42"
    job.poll_count = 3
    job.metadata = {"weight": 2.5, "nested": {"x": [1, 2.25]}}
    job.updated_at = CREATED + timedelta(seconds=30)
    store.update(job)
    loaded = store.get(job.id)
    assert loaded == job
    assert loaded.status is JobStatus.RUNNING
    assert loaded.metadata == {"weight": 2.5, "nested": {"x": [1, 2.25]}}


def test_update_removes_fields_set_to_none(store: JobStore, table: Any) -> None:
    job = make_job(provider_request_id="req-1", error=JobError(code="x", message="y"))
    store.create(job)
    assert "provider_request_id" in raw_item(table, job.id)
    job.provider_request_id = None
    job.error = None
    job.metadata = None
    store.update(job)
    item = raw_item(table, job.id)
    assert "provider_request_id" not in item
    assert "error" not in item
    assert "metadata" not in item
    assert "expires_at" in item  # not a Job field: left alone
    loaded = store.get(job.id)
    assert loaded.provider_request_id is None and loaded.error is None and loaded.metadata is None


@pytest.mark.parametrize("terminal", sorted(TERMINAL_STATUSES))
def test_update_after_terminal_raises(store: JobStore, terminal: JobStatus) -> None:
    job = make_job(status=terminal)
    store.create(job)
    late = job.model_copy(update={"status": JobStatus.RUNNING, "progress": 50})
    with pytest.raises(JobAlreadyTerminal):
        store.update(late)
    assert store.get(job.id).status is terminal


def test_terminal_write_then_late_write_loses(store: JobStore) -> None:
    job = make_job()
    store.create(job)
    canceled = job.model_copy(update={"status": JobStatus.CANCELED})
    store.update(canceled)  # queued -> canceled is allowed
    late = job.model_copy(update={"status": JobStatus.RUNNING, "progress": 90})
    with pytest.raises(JobAlreadyTerminal):
        store.update(late)
    assert store.get(job.id).status is JobStatus.CANCELED


def test_update_after_terminal_allowed_when_asked(store: JobStore) -> None:
    job = make_job(status=JobStatus.FAILED, error=JobError(code="provider_failed", message="boom"))
    store.create(job)
    job.status = JobStatus.SUCCEEDED
    job.error = None
    store.update(job, allow_after_terminal=True)
    loaded = store.get(job.id)
    assert loaded.status is JobStatus.SUCCEEDED
    assert loaded.error is None


def test_update_of_missing_job_does_not_create_it(store: JobStore) -> None:
    # The failed attribute_exists(id) condition surfaces as JobAlreadyTerminal; no item appears.
    with pytest.raises((JobAlreadyTerminal, JobNotFound)):
        store.update(make_job("vid_never_created"))
    with pytest.raises(JobNotFound):
        store.get("vid_never_created")


# ---- delete ----------------------------------------------------------------------


def test_delete(store: JobStore, table: Any) -> None:
    store.create(make_job())
    store.create(make_job("vid_other"))
    store.delete("vid_01test")
    with pytest.raises(JobNotFound):
        store.get("vid_01test")
    assert store.get("vid_other").id == "vid_other"
    store.delete("vid_01test")  # idempotent
    assert [item["id"] for item in table.scan()["Items"]] == ["vid_other"]
