"""Soak: hundreds of jobs through the local stack, each with a fault mode drawn from the matrix.

Whatever the faults, every job ends, every stored video is the provider's bytes, every job's
webhook gets exactly one terminal event (or the event is dead-lettered), the provider never
gets a duplicate submission, and no multipart upload is left open. The draw is seeded:
`VIDEOHOOK_SOAK_SEED=<seed>` repeats a run (the seed is printed).
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import random
import time

import boto3
import pytest

from sandbox.mp4 import mp4_sha256
from tests.e2e.fault_modes import MODES, TERMINAL_EVENTS, FaultMode, Outcome, run_modes

pytestmark = pytest.mark.e2e
JOBS = 200
# Half the e2e clock: the modes' provider times (a 600 s generation, backoffs) pass twice as fast.
SOAK_TIME_SCALE = 0.01
BATCH_TIMEOUT = 240


@pytest.fixture
def soak_clock(local_stack):
    before = local_stack.config.time_scale
    local_stack.set_time_scale(SOAK_TIME_SCALE)
    yield
    local_stack.set_time_scale(before)


def _draw(rng: random.Random) -> list[FaultMode]:
    """Modes at random until JOBS of them create a job (a refused submit creates none)."""
    drawn: list[FaultMode] = []
    while sum(mode.status is not None for mode in drawn) < JOBS:
        drawn.append(rng.choice(MODES))
    return drawn


def _stored_sha256(s3_uri: str) -> str:
    bucket, key = s3_uri.removeprefix("s3://").split("/", 1)
    return hashlib.sha256(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()).hexdigest()


def _dead_lettered(local_stack) -> set[str]:
    sqs, queue = boto3.client("sqs"), local_stack.environment["VIDEOHOOK_WEBHOOK_DLQ_URL"]
    letters: set[str] = set()
    while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages"):
        letters |= {json.loads(message["Body"])["job_id"] for message in messages}
    return letters


def _summary(outcomes: list[Outcome]) -> str:
    counts = collections.Counter(
        (o.mode.name, o.job["status"] if o.job else "refused", (o.observed()["error_code"] or "-"))
        for o in outcomes
    )
    return "\n".join(
        f"{n:>4}  {name:<34} {status:<10} {code}" for (name, status, code), n in sorted(counts.items())
    )


def test_hundreds_of_faulty_jobs_end_cleanly(local_stack, receiver, soak_clock):
    seed = int(os.environ.get("VIDEOHOOK_SOAK_SEED") or random.randrange(2**32))
    print(f"\nsoak seed: {seed} (VIDEOHOOK_SOAK_SEED={seed} repeats this draw)")
    modes = _draw(random.Random(seed))
    duplicates_before = local_stack.sandbox.stats["duplicate_accepted"]
    started = time.monotonic()

    outcomes = run_modes(local_stack, receiver, modes, timeout=BATCH_TIMEOUT)

    jobs = [outcome for outcome in outcomes if outcome.job_id is not None]
    print(
        f"{len(jobs)} jobs, {len(outcomes) - len(jobs)} refused submits in {time.monotonic() - started:.0f} s"
    )
    print(_summary(outcomes))
    assert len(jobs) == JOBS and all(o.answer.status_code == 503 for o in outcomes if o.job_id is None)

    unfinished = [
        (o.job_id, o.mode.name, o.job["status"]) for o in jobs if o.job["status"] not in TERMINAL_EVENTS
    ]
    assert not unfinished, f"jobs that never ended: {unfinished}"

    succeeded = [o for o in jobs if o.job["status"] == "succeeded"]
    wrong_bytes = [
        (o.job_id, o.mode.name)
        for o in succeeded
        if _stored_sha256(o.job["video"]["s3_uri"])
        != mp4_sha256(o.job["provider_request_id"], o.provider_jobs[0]["bytes"])
    ]
    assert not wrong_bytes, f"stored videos that are not the provider's bytes: {wrong_bytes}"

    not_once = {o.job_id: (o.mode.name, o.terminal_webhooks) for o in jobs if len(o.terminal_webhooks) != 1}
    if not_once:
        dead_lettered = _dead_lettered(local_stack)
        not_once = {
            job_id: seen for job_id, seen in not_once.items() if seen[1] or job_id not in dead_lettered
        }
    assert not not_once, f"jobs without exactly one terminal webhook (nor a dead letter): {not_once}"

    duplicated = [
        (o.mode.name, o.observed()["accepted_attempts"]) for o in outcomes if len(o.provider_jobs) > 1
    ]
    assert not duplicated, f"prompts the provider accepted more than once: {duplicated}"
    assert local_stack.sandbox.stats["duplicate_accepted"] == duplicates_before

    s3, bucket = boto3.client("s3"), local_stack.environment["VIDEOHOOK_VIDEO_BUCKET"]
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads"), "orphaned multipart uploads"
