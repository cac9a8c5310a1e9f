"""JobStore against moto's in-process DynamoDB (mock_aws: no sockets): create, get, update and
delete; the indexed reads (by_tenant, by_submission), cancel and idempotency claims."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import JOBS_TABLE_ATTRIBUTES, JOBS_TABLE_INDEXES
from videohook import job_store
from videohook.job_store import (
    RECORD_RETENTION,
    JobAlreadyTerminal,
    JobNotFound,
    JobStore,
    sortable_time,
)
from videohook.models import TERMINAL_STATUSES, Job, JobError, JobStatus, ProviderName, VideoArtifact

TABLE = "videohook-jobs-test"
CREATED = datetime(2025, 3, 1, 12, 30, 15, 123000, tzinfo=UTC)
T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


class Recording:
    """The table, with every method call's name recorded (to prove listing never scans)."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.calls.append(name)
        return getattr(self.table, name)


@pytest.fixture(scope="module")
def _table(in_process_aws: None) -> Any:
    """One table per module, with the jobs table's indexes; emptied after each test."""
    return boto3.resource("dynamodb", region_name="us-east-1").create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=JOBS_TABLE_ATTRIBUTES,
        GlobalSecondaryIndexes=JOBS_TABLE_INDEXES,
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def table(_table: Any) -> Iterator[Recording]:
    yield Recording(_table)
    for item in _table.scan(ProjectionExpression="id")["Items"]:
        _table.delete_item(Key={"id": item["id"]})


@pytest.fixture
def store(table: Recording) -> JobStore:
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


def job(index: int, tenant: str = "key_a", status: JobStatus = JobStatus.QUEUED, **overrides: Any) -> Job:
    created = overrides.pop("created_at", T0 + timedelta(seconds=index))
    return Job(
        id=f"vid_{index:026d}",
        tenant_id=tenant,
        provider=ProviderName.XAI,
        prompt=f"job {index}",
        status=status,
        created_at=created,
        updated_at=created,
        deadline_at=created + timedelta(hours=1),
        **overrides,
    )


def pages(store: JobStore, tenant: str, limit: int, status: JobStatus | None = None) -> list[list[str]]:
    found, after = [], None
    while True:
        jobs, after = store.list_for_tenant(tenant, limit=limit, status=status, after=after)
        found.append([j.id for j in jobs])
        if after is None:
            return found
        assert len(found) < 100


# ---- listing -------------------------------------------------------------------------


def test_created_at_is_stored_fixed_width_so_it_sorts_like_time(store: JobStore, table: Recording) -> None:
    on_the_second = job(1, created_at=T0)  # pydantic would write "...:00Z", which sorts after ".5Z"
    half_past = job(2, created_at=T0 + timedelta(milliseconds=500))
    store.create(on_the_second)
    store.create(half_past)
    stored = table.table.get_item(Key={"id": on_the_second.id})["Item"]["created_at"]
    assert stored == "2025-03-01T12:00:00.000000Z" == sortable_time(T0)
    assert pages(store, "key_a", 10) == [[half_past.id, on_the_second.id]]
    on_the_second.progress = 10
    store.update(on_the_second)
    assert table.table.get_item(Key={"id": on_the_second.id})["Item"]["created_at"] == stored


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 7, 100])
def test_pages_cover_the_tenant_newest_first_exactly_once(store: JobStore, limit: int) -> None:
    for index in range(7):
        store.create(job(index))
    store.create(job(50, tenant="key_b"))
    found = pages(store, "key_a", limit)
    flat = [job_id for page in found for job_id in page]
    assert flat == [job(index).id for index in reversed(range(7))]
    assert all(len(page) == limit for page in found[:-1])
    # The last page ends the listing: no empty page after a full one.
    assert found[-1]


def test_a_listing_only_ever_queries_the_index(store: JobStore, table: Recording) -> None:
    for index in range(5):
        store.create(job(index))
    table.calls.clear()
    pages(store, "key_a", 2)
    pages(store, "key_a", 2, status=JobStatus.QUEUED)
    assert set(table.calls) == {"query"}


def test_the_status_filter_fills_pages_across_queries(store: JobStore) -> None:
    for index in range(30):
        store.create(job(index, status=JobStatus.FAILED if index % 7 == 0 else JobStatus.QUEUED))
    failed = [job(index).id for index in reversed(range(30)) if index % 7 == 0]
    found = pages(store, "key_a", 2, status=JobStatus.FAILED)
    assert [job_id for page in found for job_id in page] == failed
    assert all(len(page) == 2 for page in found[:-1])


def test_a_long_sparse_filter_returns_a_partial_page_with_a_position(
    store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(job_store, "MAX_ITEMS_EXAMINED_PER_LIST", 5)
    monkeypatch.setattr(job_store, "FILTERED_QUERY_LIMIT", 3)
    for index in range(12):
        store.create(job(index, status=JobStatus.FAILED if index == 0 else JobStatus.QUEUED))
    jobs, after = store.list_for_tenant("key_a", limit=5, status=JobStatus.FAILED)
    assert jobs == [] and after is not None  # examined its budget, found nothing yet: keep going
    found = pages(store, "key_a", 5, status=JobStatus.FAILED)
    assert [job_id for page in found for job_id in page] == [job(0).id]


def test_a_position_of_a_deleted_item_still_continues(store: JobStore) -> None:
    for index in range(5):
        store.create(job(index))
    first, after = store.list_for_tenant("key_a", limit=2)
    store.delete(first[-1].id)
    rest, _ = store.list_for_tenant("key_a", limit=10, after=after)
    assert [j.id for j in rest] == [job(index).id for index in (2, 1, 0)]


def test_an_empty_tenant_lists_nothing(store: JobStore) -> None:
    assert store.list_for_tenant("key_nobody", limit=20) == ([], None)


# ---- cancel --------------------------------------------------------------------------


def test_cancel_marks_the_job_canceled(store: JobStore) -> None:
    store.create(job(1, status=JobStatus.RUNNING, progress=40))
    now = T0 + timedelta(minutes=3)
    canceled = store.cancel(job(1).id, "key_a", now=now)
    assert canceled.status is JobStatus.CANCELED
    assert canceled.completed_at == canceled.updated_at == now
    assert canceled.progress == 40  # only the state changes
    assert store.get(job(1).id) == canceled


def test_cancel_of_another_tenants_or_a_missing_job_is_not_found(store: JobStore) -> None:
    store.create(job(1))
    with pytest.raises(JobNotFound):
        store.cancel(job(1).id, "key_b", now=T0)
    with pytest.raises(JobNotFound):
        store.cancel("vid_missing", "key_a", now=T0)
    assert store.get(job(1).id).status is JobStatus.QUEUED


@pytest.mark.parametrize(
    "status", [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.EXPIRED, JobStatus.CANCELED]
)
def test_cancel_of_a_finished_job_is_refused(store: JobStore, status: JobStatus) -> None:
    store.create(job(1, status=status))
    with pytest.raises(JobAlreadyTerminal):
        store.cancel(job(1).id, "key_a", now=T0)
    assert store.get(job(1).id).status is status


def test_a_late_workflow_write_cannot_undo_a_cancel(store: JobStore) -> None:
    stale = job(1, status=JobStatus.RUNNING)
    store.create(stale)
    store.cancel(stale.id, "key_a", now=T0)
    stale.progress = 90
    with pytest.raises(JobAlreadyTerminal):
        store.update(stale)
    assert store.get(stale.id).status is JobStatus.CANCELED


def test_an_item_that_is_no_job_is_not_found(store: JobStore, table: Recording) -> None:
    table.table.put_item(Item={"id": "history#xai", "seq": 3})  # other records share the table
    with pytest.raises(JobNotFound):
        store.get_for_tenant("history#xai", "key_a")
    with pytest.raises(JobNotFound):
        store.cancel("history#xai", "key_a", now=T0)
    assert table.table.get_item(Key={"id": "history#xai"})["Item"] == {"id": "history#xai", "seq": 3}


# ---- unfinished submits and idempotency claims ------------------------------------------


def test_unfinished_submissions_lists_only_old_jobs_still_in_submission(
    store: JobStore, table: Recording
) -> None:
    old, young, finished = (
        job(1, submission="in_progress"),
        job(2, submission="in_progress"),
        job(3, submission="in_progress"),
    )
    for each in (old, young, finished):
        store.create(each)
    store.end_submission(finished.id)
    table.calls.clear()
    found = store.unfinished_submissions(started_before=T0 + timedelta(seconds=2))
    assert [j.id for j in found] == [old.id]
    assert found[0].submission == "in_progress" and found[0].prompt == "job 1"  # the whole job
    assert "scan" not in table.calls
    assert "submission" not in table.table.get_item(Key={"id": finished.id})["Item"]


def test_end_submission_works_on_a_canceled_job(store: JobStore) -> None:
    submitting = job(1, submission="in_progress")
    store.create(submitting)
    store.cancel(submitting.id, "key_a", now=T0)
    store.end_submission(submitting.id)
    stored = store.get(submitting.id)
    assert stored.status is JobStatus.CANCELED and stored.submission is None


def test_a_claim_belongs_to_its_first_job_until_it_expires(store: JobStore, table: Recording) -> None:
    later = T0 + timedelta(days=1)
    assert store.claim("hash-1", "vid_first", now=T0, expires_at=later) == "vid_first"
    assert store.claim("hash-1", "vid_second", now=T0 + timedelta(hours=1), expires_at=later) == "vid_first"
    assert store.claim("hash-2", "vid_other", now=T0, expires_at=later) == "vid_other"
    # Expired (DynamoDB's TTL may not have deleted it yet): the key is free again.
    assert (
        store.claim(
            "hash-1", "vid_third", now=later + timedelta(seconds=1), expires_at=later + timedelta(days=1)
        )
        == "vid_third"
    )
    # A claim is no job: no tenant can read it, no listing shows it.
    with pytest.raises(JobNotFound):
        store.get_for_tenant("claim#hash-1", "key_a")
    assert pages(store, "key_a", 10) == [[]]
