"""Waiting for a job to end (waiting.py): the poll loop, its backoff, its deadline and the failures
it rides out; time is a FakeClock, nothing sleeps."""

from __future__ import annotations

import httpx
import pytest
from videohook_client import JobStatus, VideohookClientError, VideohookServerError, VideohookTimeout

from tests.fakes import VIDEO_SHA256, error_json, job_json, succeeded_json


def test_wait_polls_with_backoff_until_terminal(api, client, clock):
    api.on(
        "GET",
        "/prod/v1/videos/vid_1",
        httpx.Response(200, json=job_json(status="queued")),
        httpx.Response(200, json=job_json(status="running", progress=10)),
        httpx.Response(200, json=job_json(status="running", progress=50)),
        httpx.Response(200, json=job_json(status="running", progress=90)),
        httpx.Response(200, json=succeeded_json()),
    )
    seen: list[tuple[str, int]] = []
    job = client.wait("vid_1", poll_interval=1.0, max_poll_interval=2.0, on_progress=lambda j: seen.append(
        (j.status.value, j.progress)
    ))  # fmt: skip
    assert job.succeeded and job.video is not None and job.video.sha256 == VIDEO_SHA256
    assert seen == [("queued", 0), ("running", 10), ("running", 50), ("running", 90), ("succeeded", 100)]
    assert clock.sleeps == [1.0, 1.5, 2.0, 2.0]


def test_wait_returns_failed_jobs_too(api, client):
    failed = job_json(status="failed", error={"code": "generation_failed", "message": "no"})
    api.on("GET", "/prod/v1/videos/vid_1", httpx.Response(200, json=failed))
    job = client.wait("vid_1")
    assert job.status is JobStatus.FAILED and job.error is not None and job.error.code == "generation_failed"


def test_wait_times_out_with_the_last_state(api, client, clock):
    api.on("GET", "/prod/v1/videos/vid_1", httpx.Response(200, json=job_json(status="running", progress=40)))
    with pytest.raises(VideohookTimeout, match="within 10 s") as caught:
        client.wait("vid_1", timeout=10, poll_interval=2, max_poll_interval=4)
    assert caught.value.job is not None and caught.value.job.progress == 40
    assert sum(clock.sleeps) == pytest.approx(10)  # never sleeps past the deadline
    assert len(api.requests) == len(clock.sleeps) + 1  # and polls once more at the deadline


def test_wait_rides_out_a_few_transient_failures(api, client, clock):
    client._retries = 0
    api.on(
        "GET",
        "/prod/v1/videos/vid_1",
        error_json(503, "provider_unavailable", "try again"),
        error_json(502, "bad_gateway", "x"),
        httpx.Response(200, json=succeeded_json()),
    )
    assert client.wait("vid_1", poll_interval=1).succeeded


def test_wait_gives_up_after_consecutive_failures_and_on_client_errors(api, client):
    client._retries = 0
    api.on("GET", "/prod/v1/videos/vid_1", error_json(503, "provider_unavailable", "try again"))
    with pytest.raises(VideohookServerError):
        client.wait("vid_1", poll_interval=1)
    assert len(api.requests) == 5
    api.on("GET", "/prod/v1/videos/vid_2", error_json(404, "not_found", "no such job"))
    with pytest.raises(VideohookClientError):
        client.wait("vid_2")


def test_between_polls_a_job_with_an_expected_end_is_reported_every_tick(api, client, clock):
    running = job_json(status="running", estimated_done_at="2025-01-02T03:04:25Z")
    api.on(
        "GET",
        "/prod/v1/videos/vid_1",
        httpx.Response(200, json=running),
        httpx.Response(200, json=running),
        httpx.Response(200, json=succeeded_json()),
    )
    seen: list[float] = []
    job = client.wait(
        "vid_1", poll_interval=1.0, max_poll_interval=2.0, on_progress=lambda j: seen.append(clock())
    )
    assert job.succeeded
    assert len(api.requests) == 3  # the ticks ask nothing of the API
    # The same waits as without ticks (1.0, then 1.5), cut into PROGRESS_TICK_SECONDS.
    assert clock.sleeps == [0.5, 0.5, 0.5, 0.5, 0.5]
    assert [t - 1000.0 for t in seen] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]  # polls at 0, 1 and 2.5


def test_no_ticks_without_a_callback_or_an_expected_end(api, client, clock):
    running = job_json(status="running", estimated_done_at="2025-01-02T03:04:25Z")
    api.on(
        "GET",
        "/prod/v1/videos/vid_1",
        httpx.Response(200, json=running),
        httpx.Response(200, json=succeeded_json()),
    )
    client.wait("vid_1", poll_interval=2.0)
    assert clock.sleeps == [2.0]
