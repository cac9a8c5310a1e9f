"""A job you can watch (issue 13, item 1): on the local stack, a 10 s 720p job from an image runs
from its submit with an expected end (`estimated_done_at`), the client's bar moves toward it
between polls, and the provider's progress shows up when a poll brings it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from videohook_client.models import MAX_EXPECTED_PROGRESS, Job

from tests.fakes import PNG_DATA_URI


@pytest.fixture
def clock_at(local_stack) -> Iterator:
    """Set the stack's time scale (the sandbox's with it) for one test; the session's after it."""
    before = local_stack.config.time_scale
    yield local_stack.set_time_scale
    local_stack.set_time_scale(before)


def _submit(api) -> dict:
    answer = api.post(
        "/v1/videos",
        json={
            "prompt": f"The clouds drift over the hill {uuid.uuid4()}",
            "duration": 10,
            "resolution": "720p",
            "image": {"url": PNG_DATA_URI},
        },
    )
    assert answer.status_code == 202, answer.text
    return answer.json()


def _at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_at_time_scale_1_a_job_runs_at_once_with_an_expected_end_and_the_bar_moves(api, clock_at):
    clock_at(1.0)
    submitted = datetime.now(UTC)
    job = _submit(api)
    try:
        # The 202 itself: accepted, so running, with the forecast's median as its expected end.
        assert job["status"] == "running" and job["progress"] == 0
        expected = _at(job["estimated_done_at"])
        assert 20 < (expected - submitted).total_seconds() < 300  # tens of seconds away, not now
        bar = [Job.from_json(job).expected_progress(datetime.now(UTC))]
        for _ in range(3):  # the CLI's poll, every second: no poll of the provider is due yet
            time.sleep(1.0)
            seen = api.get(f"/v1/videos/{job['id']}").json()
            assert seen["status"] == "running" and seen["estimated_done_at"] == job["estimated_done_at"]
            bar.append(Job.from_json(seen).expected_progress(datetime.now(UTC)))
        assert bar == sorted(bar) and len(set(bar)) == len(bar), bar  # it advances at every poll
        assert 0 < bar[-1] < MAX_EXPECTED_PROGRESS
    finally:
        assert api.post(f"/v1/videos/{job['id']}/cancel").status_code == 200


def test_a_poll_of_the_provider_brings_its_progress_and_a_new_expected_end(api, clock_at):
    # 5x faster than real time: the sandbox renders the job in ~8 s, videohook's first poll
    # comes shortly before (the formula expects ~90 s of provider time): an intermediate progress.
    scale = 0.2
    clock_at(scale)
    job = _submit(api)
    first_expected = job["estimated_done_at"]
    seen: list[dict] = []
    deadline = time.monotonic() + 60 * scale + 10
    while time.monotonic() < deadline:
        current = api.get(f"/v1/videos/{job['id']}").json()
        seen.append(current)
        if current["status"] not in ("queued", "running"):
            break
        time.sleep(scale)  # one second of provider time
    assert seen[-1]["status"] == "succeeded", seen[-1]
    assert {current["status"] for current in seen} == {"running", "succeeded"}
    reported = [current["progress"] for current in seen if current["status"] == "running"]
    assert any(0 < progress < 100 for progress in reported), reported
    assert reported == sorted(reported)
    updated = {c["estimated_done_at"] for c in seen if c["status"] == "running"} - {first_expected}
    assert updated, "the poll published its forecast"
