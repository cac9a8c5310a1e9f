"""JobStore's indexed reads (by_tenant, by_submission), cancel and idempotency claims,
against moto's in-process DynamoDB."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from tests.conftest import JOBS_TABLE_ATTRIBUTES, JOBS_TABLE_INDEXES
from videohook import job_store
from videohook.job_store import JobAlreadyTerminal, JobNotFound, JobStore, sortable_time
from videohook.models import Job, JobStatus, ProviderName

TABLE = "videohook-jobs-tenants-test"
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
