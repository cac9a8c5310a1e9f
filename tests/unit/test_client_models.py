"""The client's models (models.py): answers parsed into typed jobs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from videohook_client.models import MAX_EXPECTED_PROGRESS, Job

from tests.fakes import job_json


def test_unknown_fields_in_answers_are_tolerated(api, client):
    api.on("GET", "/prod/v1/videos/vid_1", httpx.Response(200, json=job_json(tenant_hint="x", cost=3)))
    job = client.get_video("vid_1")
    assert job.id == "vid_1" and job.raw["cost"] == 3


# ---- expected_progress: what a bar shows between polls ----------------------------------------

CREATED = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def _at(seconds: float) -> datetime:
    return CREATED + timedelta(seconds=seconds)


def test_expected_progress_moves_toward_the_expected_end():
    job = Job.from_json(job_json(status="running", estimated_done_at="2025-01-02T03:04:25Z"))
    assert [job.expected_progress(_at(s)) for s in (0, 5, 10, 15)] == [0.0, 25.0, 50.0, 75.0]
    # Late: it waits at MAX_EXPECTED_PROGRESS until the job ends, never at 100.
    assert job.expected_progress(_at(20)) == job.expected_progress(_at(600)) == MAX_EXPECTED_PROGRESS
    assert job.expected_progress(_at(-5)) == 0.0  # a clock behind the server's


def test_expected_progress_starts_from_the_reported_progress_when_it_was_reported():
    # 60% reported 10 s in, expected done at 30 s: the rest of the bar fills over the 20 s left.
    job = Job.from_json(
        job_json(
            status="running",
            progress=60,
            updated_at="2025-01-02T03:04:15Z",
            estimated_done_at="2025-01-02T03:04:35Z",
        )
    )
    assert job.expected_progress(_at(10)) == 60.0  # snapped to the report
    assert job.expected_progress(_at(20)) == 80.0
    # A report above the cap is shown as it is (the provider is done; the copy to S3 is not).
    provider_done = job_json(status="running", progress=100, estimated_done_at="2025-01-02T03:04:06Z")
    assert Job.from_json(provider_done).expected_progress(_at(9)) == 100.0


def test_expected_progress_is_the_reported_one_without_an_expected_end():
    assert Job.from_json(job_json(status="running", progress=40)).expected_progress(_at(99)) == 40.0
    ended = job_json(status="failed", progress=30, estimated_done_at="2025-01-02T03:04:25Z")
    assert Job.from_json(ended).expected_progress(_at(99)) == 30.0
