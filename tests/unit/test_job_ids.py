"""videohook.job_ids: new_job_id."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from videohook import job_ids

JOB_ID = re.compile(r"^vid_[0-9a-hjkmnp-tv-z]{26}$")


def test_new_job_id_format() -> None:
    ids = {job_ids.new_job_id() for _ in range(500)}
    assert len(ids) == 500
    for job_id in ids:
        assert JOB_ID.match(job_id), job_id


def test_new_job_id_is_sortable_by_creation_time() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    times = [start + timedelta(milliseconds=ms) for ms in (0, 1, 2, 999, 1000, 86_400_000, 10**11)]
    ids = [job_ids.new_job_id(t) for t in times]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_new_job_id_encodes_the_millisecond_timestamp() -> None:
    when = datetime(2025, 6, 30, 8, 15, 0, 250000, tzinfo=UTC)
    body = job_ids.new_job_id(when).removeprefix("vid_").upper()
    value = 0
    for char in body:
        value = value * 32 + job_ids.CROCKFORD.index(char)
    assert value >> 80 == int(when.timestamp() * 1000)
