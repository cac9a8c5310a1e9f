"""The completion-time history in the jobs table, against moto's in-process DynamoDB (no sockets)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from videohook import job_history
from videohook.job_history import HISTORY_SIZE, JobHistory, history_id

KIND = "xai|grok-imagine-video|720p|7-9"
NOW = 1_800_000_000.0


@pytest.fixture
def table(in_process_aws: None) -> Iterator[Any]:
    table = boto3.resource("dynamodb", region_name="us-east-1").create_table(
        TableName="jobs",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield table
    table.delete()


@pytest.fixture
def clock() -> list[float]:
    return [NOW]


@pytest.fixture
def history(table: Any, clock: list[float]) -> JobHistory:
    return JobHistory(table, clock=lambda: clock[0])


def test_samples_are_recorded_in_order_and_summarized(history: JobHistory, clock: list[float]) -> None:
    assert history.samples(KIND) == []
    assert history.stats(KIND) is None
    for seconds in (98.0, 102.5, 100.0, 101.0):
        clock[0] += 60
        history.record(KIND, seconds)
    assert history.samples(KIND) == [98.0, 102.5, 100.0, 101.0]
    fresh = JobHistory(history._table, clock=lambda: clock[0])  # another process: no cache
    stats = fresh.stats(KIND)
    assert stats is not None and stats.count == 4
    assert stats.median_seconds == pytest.approx(100.5, rel=0.01)


def test_the_ring_keeps_the_latest_samples(history: JobHistory, clock: list[float]) -> None:
    for index in range(HISTORY_SIZE + 5):
        clock[0] += 1
        history.record(KIND, 100.0 + index)
    samples = history.samples(KIND)
    assert len(samples) == HISTORY_SIZE
    assert samples == [100.0 + i for i in range(5, HISTORY_SIZE + 5)]


def test_old_samples_are_ignored(history: JobHistory, clock: list[float]) -> None:
    history.record(KIND, 50.0)
    clock[0] += job_history.MAX_SAMPLE_AGE_SECONDS + 1
    history.record(KIND, 100.0)
    assert history.samples(KIND) == [100.0]


def test_the_item_lives_beside_the_jobs_without_a_tenant(history: JobHistory, table: Any) -> None:
    history.record(KIND, 100.0)
    item = table.get_item(Key={"id": history_id(KIND)})["Item"]
    assert item["id"] == "history#" + KIND and item["kind"] == KIND
    assert "tenant_id" not in item  # so the by_tenant index never lists it
    assert int(item["expires_at"]) == int(NOW + job_history.HISTORY_TTL_SECONDS)


def test_kinds_are_separate(history: JobHistory) -> None:
    history.record(KIND, 100.0)
    history.record("aimlapi|default|default|default", 300.0)
    assert history.samples(KIND) == [100.0]


def test_bad_samples_are_not_recorded(history: JobHistory) -> None:
    for seconds in (float("nan"), float("inf"), 0.0, -1.0):
        history.record(KIND, seconds)
    assert history.samples(KIND) == []


def test_stats_are_cached_and_never_raise(history: JobHistory, monkeypatch: pytest.MonkeyPatch) -> None:
    for seconds in (99.0, 100.0, 101.0):
        history.record(KIND, seconds)
    assert history.stats(KIND) is not None
    calls = []
    monkeypatch.setattr(history, "samples", lambda kind: calls.append(kind) or [])
    assert history.stats(KIND) is not None  # cached
    assert calls == []

    def broken(kind: str) -> list[float]:
        raise RuntimeError("DynamoDB is down")

    other = JobHistory(history._table)
    monkeypatch.setattr(other, "samples", broken)
    assert other.stats(KIND) is None
